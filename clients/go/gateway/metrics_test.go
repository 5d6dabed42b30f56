package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMetricsCountRequests(t *testing.T) {
	m := NewMetrics("1.2.3")
	api := httptest.NewServer(m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})))
	defer api.Close()
	for range 3 {
		resp, err := http.Get(api.URL)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`extrepo_gateway_http_requests_total{code="418",method="get"} 3`,
		`extrepo_gateway_http_request_duration_seconds_count{method="get"} 3`,
		`extrepo_gateway_http_in_flight_requests 0`,
		`extrepo_gateway_build_info{version="1.2.3"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %q in the metrics", want)
		}
	}
}
