package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
)

// RequestIDHeader carries a request's id from the client (if it sent a sane one)
// or the gateway to the server (as `x-request-id` metadata) and back to the
// client; the gateway's access line, the server's call line and the error body
// (google.rpc.RequestInfo) all show it, so one slow or failed request can be
// followed from the edge to the database.
const RequestIDHeader = "X-Request-Id"

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// withRequestID gives every request an id before anything else sees it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID.MatchString(id) {
			var raw [8]byte
			_, _ = rand.Read(raw[:])
			id = hex.EncodeToString(raw[:])
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r)
	})
}

// requestIDOnly forwards the request id and the User-Agent (for the audit
// log's entries, under grpc-gateway's usual name `grpcgateway-user-agent`),
// and no other header, as gRPC metadata (the Authorization header goes its
// own way: see NewServeMux).
func requestIDOnly(key string) (string, bool) {
	switch http.CanonicalHeaderKey(key) {
	case RequestIDHeader:
		return "x-request-id", true
	case "User-Agent":
		return "grpcgateway-user-agent", true
	}
	return "", false
}
