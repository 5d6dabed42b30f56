package gateway

import (
	"net/http"
	"strings"
)

// stripTrailingSlash removes one trailing slash from the path before the
// ServeMux routes it. The original API writes every path with a trailing
// slash, but the google.api.http grammar cannot express one (grpc-gateway
// issues #370 and #472), so the rules are written without it. This cannot be a
// runtime.WithMiddlewares middleware: those run only after a route matched.
// Both spellings are accepted; a path ending in two slashes keeps one and so
// does not match.
func stripTrailingSlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
			// Copy the URL: the access log reports what the client sent.
			u := *r.URL
			u.Path = p[:len(p)-1]
			// RawPath is set only when the client's escaping differs from
			// the default one (a `%2F` in the name); keep the two in step.
			if u.RawPath != "" && strings.HasSuffix(u.RawPath, "/") {
				u.RawPath = u.RawPath[:len(u.RawPath)-1]
			}
			r2 := r.Clone(r.Context())
			r2.URL = &u
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}
