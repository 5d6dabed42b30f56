package gateway

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Header limits that line up with the gRPC metadata limits behind them.
//
// The gRPC server (grpc core, in Python) refuses incoming metadata over its
// soft limit, 8 KiB by default (grpc.max_metadata_size), counted as HTTP/2
// does (RFC 7541 §4.1: name + value + 32 per entry): RESOURCE_EXHAUSTED
// between the soft and the hard limit, and the gateway's gRPC client refuses
// to send over the 16 KiB the server advertises. The gateway forwards to it
// only three request headers: Authorization (as `authorization`, once: see
// noHeaders), X-Forwarded-For (with the client's address added) and
// X-Forwarded-Host (or Host). Everything else in the metadata is fixed and
// small (the method path, :authority, content-type, te, user-agent,
// grpc-timeout: well under 1 KiB with a host name as long as DNS allows). So
// at most maxForwardedHeaderBytes of forwarded headers always fits under the
// server's soft limit; a request over it is answered 431 before anything is
// sent.
const maxForwardedHeaderBytes = 4096

// MaxHeaderBytes bounds the request line and all headers of a request
// (http.Server.MaxHeaderBytes; net/http reads 4 KiB more before it answers
// "431 Request Header Fields Too Large" as plain text). Real clients send a
// fraction of it: an API key's Basic header is about 150 bytes.
const MaxHeaderBytes = 16 << 10

// hpackSize is a header's size as HTTP/2 and gRPC count it.
func hpackSize(name, value string) int { return len(name) + len(value) + 32 }

// forwardedHeaderBytes is the size, as the gRPC server will count it, of the
// metadata that r's headers become (the way runtime.AnnotateContext builds
// it).
func forwardedHeaderBytes(r *http.Request) int {
	n := 0
	for _, v := range r.Header.Values("Authorization") {
		n += hpackSize("authorization", v)
	}
	host := r.Header.Get("X-Forwarded-Host")
	if host == "" {
		host = r.Host
	}
	n += hpackSize("x-forwarded-host", host)
	xff := r.Header.Values("X-Forwarded-For")
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		xff = append(xff, ip)
	}
	return n + hpackSize("x-forwarded-for", strings.Join(xff, ", "))
}

// checkRequest answers, before routing, what no route can serve:
//   - 431 for headers the gRPC server would refuse as metadata (grpc-go and
//     grpc core would answer 500 "header list size ... violates the maximum"
//     or 429 with a dump of the metadata);
//   - 400 for a path or query that is not valid UTF-8 (proto strings must
//     be; the gRPC client would fail to marshal them: 500), or a malformed
//     query.
func checkRequest(next http.Handler, e *errorWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st, httpStatus := requestProblem(r); st != nil {
			e.write(w, r, httpStatus, st)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func requestProblem(r *http.Request) (*status.Status, int) {
	if forwardedHeaderBytes(r) > maxForwardedHeaderBytes {
		return status.Newf(codes.InvalidArgument,
			"request headers too large: Authorization, X-Forwarded-For and X-Forwarded-Host may hold at most %d bytes together",
			maxForwardedHeaderBytes), http.StatusRequestHeaderFieldsTooLarge
	}
	if !utf8.ValidString(r.URL.Path) {
		return status.New(codes.InvalidArgument,
			"the request path is not valid UTF-8 once percent-decoded: "+prefix(r.URL.Path)), http.StatusBadRequest
	}
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return status.New(codes.InvalidArgument, "malformed query string: "+shortMessage(err.Error())), http.StatusBadRequest
	}
	for key, vs := range values {
		if !utf8.ValidString(key) {
			return status.New(codes.InvalidArgument,
				"a query parameter name is not valid UTF-8 once percent-decoded: "+prefix(key)), http.StatusBadRequest
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return status.Newf(codes.InvalidArgument,
					"the value of query parameter %s is not valid UTF-8 once percent-decoded", prefix(key)), http.StatusBadRequest
			}
		}
	}
	return nil, 0
}
