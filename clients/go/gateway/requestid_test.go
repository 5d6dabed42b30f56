package gateway

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestRequestIDs(t *testing.T) {
	srv := newUnreachable(t)
	for _, tc := range []struct{ sent, want string }{
		{"client-id-1", "client-id-1"},
		{"", ""},                      // none sent: a new one
		{"has spaces", ""},            // not sane: a new one
		{strings.Repeat("a", 65), ""}, // too long
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/repo/v1/nothing-here/", nil)
		if tc.sent != "" {
			req.Header.Set(RequestIDHeader, tc.sent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		got := resp.Header.Get(RequestIDHeader)
		if tc.want != "" && got != tc.want {
			t.Errorf("sent %q: got id %q, want %q", tc.sent, got, tc.want)
		}
		if tc.want == "" && !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(got) {
			t.Errorf("sent %q: got id %q, want 16 new hex characters", tc.sent, got)
		}
	}
}

func TestRequestIDOnlyIsForwarded(t *testing.T) {
	if name, ok := requestIDOnly("x-request-id"); !ok || name != "x-request-id" {
		t.Errorf("x-request-id: %q %v", name, ok)
	}
	for _, other := range []string{"Cookie", "Grpc-Metadata-Foo", "X-Forwarded-For", "Authorization"} {
		if _, ok := requestIDOnly(other); ok {
			t.Errorf("%s would be forwarded", other)
		}
	}
}
