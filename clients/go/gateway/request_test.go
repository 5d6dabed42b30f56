package gateway

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Authorization reaches the server once, as `authorization`, and no other
// header does: not as grpcgateway-* (but the User-Agent, for the audit log),
// not as a client's Grpc-Metadata-*.
func TestOnlyAuthorizationIsForwardedOnce(t *testing.T) {
	f := newFixture(t, nil)
	const auth = "Basic YWxpY2U6ZWtfa2V5"
	resp, raw := request(t, "GET", f.url+itemPath, "", map[string]string{
		"Authorization":     auth,
		"Accept":            "application/json",
		"Cookie":            "session=1",
		"Grpc-Metadata-Foo": "bar",
	})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
	md := f.backend.lastCall()
	if got := md.Get("authorization"); len(got) != 1 || got[0] != auth {
		t.Errorf("authorization %q, want once %q", got, auth)
	}
	if got := md.Get("grpcgateway-user-agent"); len(got) != 1 || got[0] != "Go-http-client/1.1" {
		t.Errorf("grpcgateway-user-agent %q, want the client's User-Agent once", got)
	}
	for key := range md {
		if key == "grpcgateway-user-agent" {
			continue
		}
		if strings.HasPrefix(key, "grpcgateway-") || key == "foo" || key == "cookie" {
			t.Errorf("forwarded %s: %q", key, md.Get(key))
		}
	}
}

// What passes the gateway's header limit fits the gRPC metadata limits; what
// does not is 431 with a plain message, and never reaches the server.
func TestHeaderLimitsLineUp(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		name       string
		headers    map[string]string
		httpStatus int
		reached    bool
	}{
		{"3 KB key", map[string]string{"Authorization": "Basic " + strings.Repeat("a", 3000)}, 200, true},
		{"7 KB key", map[string]string{"Authorization": "Basic " + strings.Repeat("a", 7000)}, 431, false},
		{"8 KB key", map[string]string{"Authorization": "Basic " + strings.Repeat("a", 8200)}, 431, false},
		{"forwarded-for", map[string]string{"X-Forwarded-For": strings.Repeat("1.2.3.4, ", 500)}, 431, false},
		{"forwarded-host", map[string]string{"X-Forwarded-Host": strings.Repeat("h", 4096)}, 431, false},
	} {
		before := f.backend.callCount()
		resp, raw := request(t, "GET", f.url+itemPath, "", c.headers)
		if resp.StatusCode != c.httpStatus {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, raw, c.httpStatus)
		}
		if reached := f.backend.callCount() > before; reached != c.reached {
			t.Errorf("%s: reached the server: %v", c.name, reached)
		}
		if c.httpStatus == 431 {
			body := decodeError(t, raw)
			if !strings.HasPrefix(body.Error, "request headers too large") {
				t.Errorf("%s: %s", c.name, raw)
			}
		}
	}
	// Just under the limit: the same metadata size as the server counts it.
	auth := "Basic " + strings.Repeat("a", 3000)
	req, _ := http.NewRequest("GET", f.url+itemPath, nil)
	req.Header.Set("Authorization", auth)
	req.RemoteAddr = "127.0.0.1:1"
	req.Host = strings.TrimPrefix(f.url, "http://")
	if n := forwardedHeaderBytes(req); n >= maxForwardedHeaderBytes {
		t.Fatalf("forwardedHeaderBytes %d", n)
	}
	if _, raw := request(t, "GET", f.url+itemPath, "", map[string]string{"Authorization": auth}); strings.Contains(raw, "error") {
		t.Errorf("%s", raw)
	}
	md := f.backend.lastCall()
	size := 0
	for k, vs := range md {
		if k == "authorization" || k == "x-forwarded-for" || k == "x-forwarded-host" {
			for _, v := range vs {
				size += hpackSize(k, v)
			}
		}
	}
	if size != forwardedHeaderBytes(req) {
		t.Errorf("the server got %d bytes of forwarded metadata, the gateway counted %d (%v)", size, forwardedHeaderBytes(req), md)
	}
}

// Invalid UTF-8 in a path or query is 400, with or without credentials,
// before any route: proto strings must be UTF-8.
func TestInvalidUTF8Is400(t *testing.T) {
	srv := newUnreachable(t)
	for _, p := range []string{
		"/api/repo/v1/repository/%FF/",
		"/api/repo/v1/repository/reg.io/team/%C3/",
		"/api/repo/v1/%C0%AF/repository/",
		"/api/repo/v1/repository/?name=%C3",
		"/api/repo/v1/repository/?registry=reg.io&name=%C0%AF",
		"/api/repo/v1/repository/?%FF=1",
		"/nowhere/%FF",
		"/api/repo/v1/repository/?name=%zz",
	} {
		for _, auth := range []string{"", "Basic YTpi"} {
			req, _ := http.NewRequest("GET", srv.URL+p, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body errorBody
			raw := readAll(t, resp)
			if resp.StatusCode != 400 {
				t.Errorf("%s: %d %s", p, resp.StatusCode, raw)
				continue
			}
			body = decodeError(t, raw)
			if body.Code != 3 || !(strings.Contains(body.Error, "UTF-8") || strings.Contains(body.Error, "malformed query")) {
				t.Errorf("%s: %s", p, raw)
			}
		}
	}
}

// The server's response metadata reaches no REST client, as headers or as
// trailers, on success or error.
func TestNoResponseMetadataIsForwarded(t *testing.T) {
	f := newFixture(t, nil)
	for _, reply := range []error{nil, status.Error(codes.NotFound, "no such repository")} {
		f.backend.setReply(reply)
		resp, raw := request(t, "GET", f.url+itemPath, "", map[string]string{"TE": "trailers"})
		for _, h := range []http.Header{resp.Header, resp.Trailer} {
			for k, v := range h {
				if strings.HasPrefix(strings.ToLower(k), "grpc-") || strings.Contains(strings.Join(v, ""), "inside") {
					t.Errorf("%v: forwarded %s: %q (%s)", reply, k, v, raw)
				}
			}
		}
	}
}
