package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/cors"
)

// Browser access (CORS) is off unless origins are configured: without an
// allow-list no answer carries an Access-Control-Allow-Origin header, so a
// page of another site cannot read the API's answers nor send it a JSON
// write (its preflight is not granted). With one, rs/cors answers the
// preflights of those origins and marks their requests' answers.

// ParseOrigins reads a CORS allow-list: comma-separated origins, each
// `scheme://host[:port]` (http or https; one `*` may stand for any part of
// the host, as in https://*.example.com), or `*` for every origin. Empty
// entries are skipped; an empty list means no browser access.
func ParseOrigins(list string) ([]string, error) {
	var origins []string
	for _, o := range strings.Split(list, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			if err := checkOrigin(o); err != nil {
				return nil, fmt.Errorf("origin %q: %w", prefix(o), err)
			}
		}
		origins = append(origins, o)
	}
	return origins, nil
}

func checkOrigin(o string) error {
	if strings.Count(o, "*") > 1 {
		return fmt.Errorf("at most one * in an origin")
	}
	u, err := url.Parse(strings.Replace(o, "*", "x", 1))
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("an origin is http:// or https:// and a host")
	case u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("an origin is a scheme, a host and a port, no path")
	}
	return nil
}

// withCORS wraps next with rs/cors for the allowed origins, or returns next
// unchanged for none (rs/cors would take an empty list for every origin).
func withCORS(next http.Handler, origins []string) http.Handler {
	if len(origins) == 0 {
		return next
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		// The API's methods; HEAD is answered as GET's preflight needs.
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete},
		// What a browser client sends: its API key in Authorization, and
		// the JSON Content-Type of a write.
		AllowedHeaders: []string{"Authorization", "Content-Type", "Accept"},
		// Location of a 201, Retry-After of a 429 or 503, the request id.
		ExposedHeaders: []string{"Location", "Retry-After", RequestIDHeader, ActionURIHeader},
		// A page sends the API key itself, in Authorization; the browser's
		// own credentials (cookies, a cached Basic login) are never asked
		// for, so a page cannot act with a login it did not supply.
		AllowCredentials: false,
		MaxAge:           600,
	})
	return c.Handler(next)
}
