package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestParseOrigins(t *testing.T) {
	for list, want := range map[string][]string{
		"":                    nil,
		" , ":                 nil,
		"https://app.example": {"https://app.example"},
		"https://a.example:8443, http://localhost:3000": {"https://a.example:8443", "http://localhost:3000"},
		"https://*.example.com":                         {"https://*.example.com"},
		"*":                                             {"*"},
	} {
		got, err := ParseOrigins(list)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseOrigins(%q) = %q, %v; want %q", list, got, err, want)
		}
	}
	for _, bad := range []string{
		"app.example", "ftp://app.example", "https://app.example/path", "https://user@app.example",
		"https://app.example?x=1", "https://*.*.example", "https://", "null",
	} {
		if got, err := ParseOrigins(bad); err == nil {
			t.Errorf("ParseOrigins(%q) accepted %q", bad, got)
		}
	}
}

// corsHandler is Wrap around a stand-in for the ServeMux that answers 200 to
// every request but OPTIONS (405, as the ServeMux does).
func corsHandler(origins ...string) http.Handler {
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return Wrap(mux, slog.New(slog.NewTextHandler(io.Discard, nil)), WithCORSOrigins(origins))
}

func preflight(h http.Handler, origin, method string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodOptions, collectionPath, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func simple(h http.Handler, origin string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, collectionPath, nil)
	req.Header.Set("Origin", origin)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestCORS(t *testing.T) {
	const app, other = "https://app.example", "https://evil.example"
	h := corsHandler(app, "https://*.tools.example")

	for _, origin := range []string{app, "https://ci.tools.example"} {
		w := preflight(h, origin, "POST")
		if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != origin ||
			w.Header().Get("Access-Control-Allow-Methods") != "POST" ||
			w.Header().Get("Access-Control-Allow-Headers") != "authorization,content-type" ||
			w.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight from %s: %d %v", origin, w.Code, w.Header())
		}
		w = simple(h, origin)
		if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != origin ||
			w.Header().Get("Access-Control-Expose-Headers") != "Location, Retry-After, X-Request-Id, X-Dockercloud-Action-Uri" {
			t.Errorf("GET from %s: %d %v", origin, w.Code, w.Header())
		}
	}
	// Another origin gets no grant: the browser refuses the write and hides
	// the answers.
	for _, origin := range []string{other, "https://app.example.evil.example", "http://app.example"} {
		if w := preflight(h, origin, "POST"); w.Header().Get("Access-Control-Allow-Origin") != "" ||
			w.Header().Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("preflight from %s granted: %v", origin, w.Header())
		}
		if w := simple(h, origin); w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET from %s granted: %v", origin, w.Header())
		}
	}
	// A method the API does not have is not granted.
	if w := preflight(h, app, "CONNECT"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CONNECT granted: %v", w.Header())
	}
}

func TestNoCORSUnlessConfigured(t *testing.T) {
	h := corsHandler()
	w := preflight(h, "https://app.example", "POST")
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without an allow-list: %d %v", w.Code, w.Header())
	}
	if w := simple(h, "https://app.example"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET without an allow-list: %v", w.Header())
	}
}
