package gateway

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"os"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxBodyBytes bounds a request body: the largest legitimate one is a create
// with a 255-character name and two credentials of a few KiB.
const maxBodyBytes = 1 << 20

// bodyPolicy is the ServeMux middleware (it runs once a route matched, so a
// wrong path or method is still 404 or 405) for the writes, the requests with
// a body (POST, PATCH, PUT):
//
//   - the body is read whole before the RPC's handler decodes it, so that
//     how reading failed decides the answer: 408 when the client sent it too
//     slowly (http.Server.ReadTimeout), 413 when it is over maxBodyBytes,
//     400 when the connection broke. grpc-gateway's decoder would answer 400
//     with the i/o error's text for all three.
//   - a body's Content-Type must be application/json (parameters such as
//     charset allowed): 415 otherwise, as the original API answered. A
//     browser sends a cross-site text/plain or form POST without asking the
//     server first (no CORS preflight), with the Basic credentials it has
//     cached for the site; a JSON one it must ask about, and CORS says no
//     unless configured (cors.go). An empty body has no type to check: it
//     asks for nothing, and the server answers what is missing.
func bodyPolicy(e *errorWriter) runtime.Middleware {
	return func(next runtime.HandlerFunc) runtime.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
			switch r.Method {
			case http.MethodPost, http.MethodPatch, http.MethodPut:
			default:
				next(w, r, pathParams)
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
			if err != nil {
				httpStatus, st := bodyReadProblem(err)
				e.write(w, r, httpStatus, st)
				return
			}
			if len(body) > 0 {
				if st := contentTypeProblem(r.Header.Values("Content-Type")); st != nil {
					e.write(w, r, http.StatusUnsupportedMediaType, st)
					return
				}
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			next(w, r, pathParams)
		}
	}
}

// contentTypeProblem refuses every Content-Type but one application/json.
func contentTypeProblem(values []string) *status.Status {
	const want = `send the body as JSON with "Content-Type: application/json"`
	switch len(values) {
	case 0:
		return status.New(codes.InvalidArgument, "no Content-Type: "+want)
	case 1:
	default:
		return status.New(codes.InvalidArgument, "more than one Content-Type: "+want)
	}
	mediaType, _, err := mime.ParseMediaType(values[0])
	if err != nil || mediaType != "application/json" {
		return status.Newf(codes.InvalidArgument, "unsupported Content-Type %q: %s", prefix(values[0]), want)
	}
	return nil
}

// bodyReadProblem is the answer to a body that could not be read.
func bodyReadProblem(err error) (int, *status.Status) {
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, status.Newf(codes.InvalidArgument,
			"the request body is larger than %d bytes", maxBodyBytes)
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return http.StatusRequestTimeout, status.New(codes.DeadlineExceeded,
			"the request body did not arrive in time; send it at once")
	default:
		return http.StatusBadRequest, status.New(codes.InvalidArgument,
			"the request body could not be read: the connection broke before its end")
	}
}
