package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/status"
)

// errorBody is what every error answer holds. `error` is the key the
// original API's clients read; `code`, `message` and `details` are the
// google.rpc.Status the gRPC server sent, kept alongside for clients that
// know gRPC (details carry the BadRequest field violations).
type errorBody struct {
	Error   string            `json:"error"`
	Code    int32             `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// errorHandler writes a gRPC error as the original API did: the HTTP status
// of its canonical code (grpc-gateway's table: NOT_FOUND 404, ALREADY_EXISTS
// 409, INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, ...)
// and a JSON body with an actionable `error`.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	httpStatus := 0
	var custom *runtime.HTTPStatusError
	if errors.As(err, &custom) {
		httpStatus = custom.HTTPStatus
		err = custom.Err
	}
	s := status.Convert(err)
	if httpStatus == 0 {
		httpStatus = runtime.HTTPStatusFromCode(s.Code())
	}
	if s.Code() == codes.Unauthenticated {
		// RFC 9110 §11.6.1: a 401 names the scheme to use.
		w.Header().Set("WWW-Authenticate", `Basic realm="extrepo"`)
	}
	body := errorBody{
		Error:   actionableMessage(s, r),
		Code:    int32(s.Code()),
		Message: s.Message(),
		Details: []json.RawMessage{},
	}
	for _, d := range s.Proto().GetDetails() {
		// The marshaler resolves each Any through the global registry,
		// where errdetails registered the google.rpc detail types.
		raw, merr := m.Marshal(d)
		if merr != nil {
			grpclog.Errorf("marshal error detail %s: %v", d.GetTypeUrl(), merr)
			continue
		}
		body.Details = append(body.Details, raw)
	}
	writeJSON(w, httpStatus, body)
}

// actionableMessage is the server's message, completed with what a user
// needs to fix the request: each field violation, or how to authenticate.
func actionableMessage(s *status.Status, r *http.Request) string {
	msg := s.Message()
	if msg == "" {
		msg = strings.ToLower(http.StatusText(runtime.HTTPStatusFromCode(s.Code())))
	}
	var parts []string
	for _, d := range s.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			p := v.GetField() + ": " + v.GetDescription()
			if !strings.Contains(msg, p) {
				parts = append(parts, p)
			}
		}
	}
	if len(parts) > 0 {
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	switch s.Code() {
	case codes.Unauthenticated:
		if !strings.Contains(msg, "Basic") {
			msg += `; send "Authorization: Basic base64(username:apikey)" with an API key`
		}
	case codes.Unavailable:
		msg = "the extrepo gRPC server is unavailable, try again later: " + msg
	}
	return msg
}

// routingErrorHandler answers requests that reach no RPC: 404 for an unknown
// path, 405 (not grpc-gateway's default 501) for a known path with the wrong
// method, 400 for a malformed path. The ServeMux says which of these it is;
// the routes say what to tell the client: the Allow header of a 405 (the
// methods of every route matching the path) and the API's paths for a 404.
func routingErrorHandler(routes Routes) runtime.RoutingErrorHandlerFunc {
	paths := joinList(routes.Paths())
	return func(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
		var st *status.Status
		switch httpStatus {
		case http.StatusMethodNotAllowed:
			allow := strings.Join(routes.Allowed(r.URL.Path), ", ")
			if allow != "" {
				w.Header().Set("Allow", allow)
			}
			st = status.New(codes.Unimplemented, fmt.Sprintf(
				"method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
		case http.StatusNotFound:
			st = status.New(codes.NotFound, fmt.Sprintf(
				"no endpoint at %s %s; the API's paths are %s", r.Method, r.URL.Path, paths))
		case http.StatusBadRequest:
			st = status.New(codes.InvalidArgument, "malformed request path "+r.URL.Path)
		default:
			st = status.New(codes.Internal, http.StatusText(httpStatus))
		}
		errorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()})
	}
}

func writeJSON(w http.ResponseWriter, httpStatus int, v any) {
	buf, err := json.Marshal(v)
	if err != nil {
		// Only RawMessages and strings are in the body: cannot happen.
		http.Error(w, `{"error": "internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Del("Trailer")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(append(buf, '\n'))
}
