package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// newUnreachable builds the real gateway in front of a port nothing listens
// on: routing, error bodies and health must not need the server.
func newUnreachable(t *testing.T) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	gw, err := New(context.Background(), addr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() { srv.Close(); _ = gw.Close() })
	return srv
}

func do(t *testing.T, method, url string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &body)
	return resp, body
}

func TestWithoutServer(t *testing.T) {
	srv := newUnreachable(t)
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/api/repo/v1/repository/", http.StatusServiceUnavailable, ""},
		{"GET", "/api/repo/v1/repository", http.StatusServiceUnavailable, ""},
		{"GET", "/healthz", http.StatusServiceUnavailable, ""},
		{"PUT", "/api/repo/v1/repository/a.io/b/", http.StatusMethodNotAllowed, "DELETE, GET, PATCH"},
		{"DELETE", "/api/repo/v1/org/repository/", http.StatusMethodNotAllowed, "GET, POST"},
		{"GET", "/nowhere/", http.StatusNotFound, ""},
	}
	for _, c := range cases {
		resp, body := do(t, c.method, srv.URL+c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		if got := resp.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		if msg, _ := body["error"].(string); msg == "" {
			t.Errorf("%s %s: no error message in %v", c.method, c.path, body)
		}
		if _, ok := body["code"]; !ok {
			t.Errorf("%s %s: no gRPC code in %v", c.method, c.path, body)
		}
	}
}

func TestServesOpenAPI(t *testing.T) {
	srv := newUnreachable(t)
	for _, p := range []string{OpenAPIPath, OpenAPIPath + "/"} {
		resp, body := do(t, "GET", srv.URL+p)
		if resp.StatusCode != 200 || body["swagger"] != "2.0" {
			t.Fatalf("%s: %d %v", p, resp.StatusCode, body["swagger"])
		}
	}
	// Another method is a 405 with the error body, quoting a prefix of it.
	resp, body := do(t, strings.Repeat("M", 5000), srv.URL+OpenAPIPath)
	msg, _ := body["error"].(string)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || body["code"] != float64(12) ||
		len(msg) > 200 || body["details"] == nil {
		t.Errorf("%d %q %v", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}

func TestRecorderKeeps204Bodyless(t *testing.T) {
	w := httptest.NewRecorder()
	rec := &recorder{ResponseWriter: w}
	rec.Header().Set("Content-Type", "application/json")
	rec.WriteHeader(http.StatusNoContent)
	if n, err := rec.Write([]byte("{}")); n != 2 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	if w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" || w.Code != 204 {
		t.Fatalf("204 carried %q, Content-Type %q", w.Body.String(), w.Header().Get("Content-Type"))
	}
}
