package gateway

import (
	"log/slog"
	"net/http"
	"time"
)

// accessLog writes one line per request: method, the path and query as the
// client sent them, status, response size, duration and the client address.
// Headers are never logged: Authorization carries an API key.
func accessLog(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		uri := r.URL.RequestURI()
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		logger.Info("request",
			"method", r.Method,
			"uri", uri,
			"status", rec.status,
			"bytes", rec.bytes,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"remote", r.RemoteAddr,
		)
	})
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
