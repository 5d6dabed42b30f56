package gateway

import (
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// accessLog writes one line per request: method, path, the names of the
// query parameters, status, response size, duration and the client address.
// Query values are never logged, nor headers: a client may wrongly put a
// credential in a URL (`?password=...`), and Authorization carries an API
// key. The method and the path are logged by a short prefix.
func accessLog(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		path, query := prefix(r.URL.Path), queryNames(r.URL.RawQuery)
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		fields := []any{
			"method", prefix(r.Method),
			"path", path,
			"query", query,
			"status", rec.status,
			"bytes", rec.bytes,
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
			"remote", r.RemoteAddr,
			"request_id", r.Header.Get(RequestIDHeader),
		}
		if span := trace.SpanContextFromContext(r.Context()); span.IsValid() {
			fields = append(fields, "trace_id", span.TraceID().String()) // tracing on (tracing.go)
		}
		logger.Info("request", fields...)
	})
}

// plainName is a query parameter name logged as it is: a short word without
// digits, such as the API's (`limit`, `name`, `cursor`) or a misspelling of
// one. Anything else (`?ek_3f9a..._c0ffee...` with no `=`: a key or a token
// pasted as a name; they all hold digits) is logged as "?", so that no name
// can carry a secret into the log.
var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z_.-]{0,31}$`)

// queryNames lists the query's parameter names, sorted, once each, joined by
// commas ("limit,name"); "" for no query.
func queryNames(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	values, _ := url.ParseQuery(rawQuery) // a malformed query still names what parsed
	names := make([]string, 0, len(values))
	for name := range values {
		if !plainName.MatchString(name) {
			name = "?"
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ",")
}

// recorder remembers the status and size for the access log, and keeps a
// 204 or 304 answer bodyless: grpc-gateway marshals DeleteResponse (`{}`)
// after successStatus chose 204, and a 204 must carry no body and no
// Content-Type.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(code int) {
	if r.status != 0 {
		return // a second WriteHeader is a no-op for net/http as well
	}
	r.status = code
	if code == http.StatusNoContent || code == http.StatusNotModified {
		h := r.Header()
		h.Del("Content-Type")
		h.Del("Content-Length")
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.status == http.StatusNoContent || r.status == http.StatusNotModified {
		return len(b), nil
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
