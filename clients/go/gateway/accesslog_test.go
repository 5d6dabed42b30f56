package gateway

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestQueryNames(t *testing.T) {
	key := "ek_3f9a0c1d2e4b5a69_" + strings.Repeat("c0ffee", 10)
	for raw, want := range map[string]string{
		"":                                   "",
		"limit=10":                           "limit",
		"name=a&limit=10&name=b":             "limit,name",
		"password=s3cret&api_key=" + key:     "api_key,password",
		key:                                  "?",
		"limit=1&" + key + "=&x%20y=1":       "?,limit",
		"a=%zz&limit=1":                      "limit",
		"Authorization=Basic%20YWxpY2U6eA==": "Authorization",
	} {
		if got := queryNames(raw); got != want {
			t.Errorf("queryNames(%q) = %q, want %q", raw, got, want)
		}
	}
}

// The access log has the path and the query's names, never its values.
func TestAccessLogKeepsNoQueryValues(t *testing.T) {
	var buf bytes.Buffer
	h := Wrap(http.NotFoundHandler(), slog.New(slog.NewTextHandler(&buf, nil)))
	long := strings.Repeat("x", 10000)
	for _, target := range []string{
		"/api/repo/v1/repository/?name=reg.io/a/b&password=s3cret-value&limit=5",
		"/api/repo/v1/repository/" + long + "/?ek_0123456789abcdef_s3cret-value",
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	log := buf.String()
	if !strings.Contains(log, "path=/api/repo/v1/repository/ query=limit,name,password") {
		t.Errorf("no path and names:\n%s", log)
	}
	for _, leak := range []string{"s3cret", "reg.io/a/b", strings.Repeat("x", maxQuoted+1)} {
		if strings.Contains(log, leak) {
			t.Errorf("the log holds %.20q:\n%.500s", leak, log)
		}
	}
}
