package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorBody is what every error answer holds. `error` is the key the
// original API's clients read; `code`, `message` and `details` are the
// google.rpc.Status the gRPC server sent, kept alongside for clients that
// know gRPC (details carry the BadRequest field violations). The OpenAPI
// description declares it as extrepo.rest.v1.Error
// (clients/go/gateway/proto/extrepo/rest/v1/error.proto); a test holds the
// two together.
type errorBody struct {
	Error   string            `json:"error"`
	Code    int32             `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// errorWriter writes every error answer of the gateway: the ServeMux's
// (errors of the RPCs and of grpc-gateway's request parsing, routing errors)
// and the gateway's own checks (415, 408, 431, ...). What a client must not
// see, a transport error naming the backend's address or any text of the gRPC
// libraries, it logs instead.
type errorWriter struct {
	logger *slog.Logger
}

// handle is the ServeMux's error handler (runtime.ErrorHandlerFunc). It
// writes a gRPC error as the original API did: the HTTP status of its
// canonical code (grpc-gateway's table: NOT_FOUND 404, ALREADY_EXISTS 409,
// INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
// RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, ...) and a JSON body with an
// actionable `error`.
func (e *errorWriter) handle(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	httpStatus := 0
	var custom *runtime.HTTPStatusError
	if errors.As(err, &custom) {
		httpStatus = custom.HTTPStatus
		err = custom.Err
	}
	s, ok := status.FromError(err)
	if !ok {
		// Not a status: an error of grpc-gateway's own, such as a
		// malformed escape in the path (400).
		code := codes.Internal
		if httpStatus == http.StatusBadRequest {
			code = codes.InvalidArgument
		}
		s = status.New(code, shortMessage(err.Error()))
	}
	if httpStatus == 0 {
		httpStatus = runtime.HTTPStatusFromCode(s.Code())
		if conflicts(s) {
			httpStatus = http.StatusConflict
		}
	}
	setActionURI(ctx, w)
	e.write(w, r, httpStatus, s)
}

// conflictReasons are the server's FAILED_PRECONDITION reasons that mean the
// resource's state conflicts with the request (RFC 9110 §15.5.10: 409), not
// that the request is wrong (grpc-gateway's 400 for the code).
var conflictReasons = map[string]bool{"REPOSITORY_IN_USE": true}

func conflicts(s *status.Status) bool {
	if s.Code() != codes.FailedPrecondition {
		return false
	}
	for _, d := range s.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == serverErrorDomain {
			return conflictReasons[info.GetReason()]
		}
	}
	return false
}

// write answers httpStatus with the body of s.
func (e *errorWriter) write(w http.ResponseWriter, r *http.Request, httpStatus int, s *status.Status) {
	msg := publicMessage(s)
	if msg != s.Message() {
		e.logger.Warn("error detail withheld from the client",
			"method", prefix(r.Method), "path", prefix(r.URL.Path), "status", httpStatus,
			"grpc_code", s.Code().String(), "detail", cut(strings.ToValidUTF8(s.Message(), "\uFFFD"), 1024))
	}
	h := w.Header()
	if s.Code() == codes.Unauthenticated {
		// RFC 9110 §11.6.1: a 401 names the scheme to use.
		h.Set("WWW-Authenticate", `Basic realm="extrepo"`)
	}
	if seconds, ok := retryAfter(s); ok {
		h.Set("Retry-After", strconv.Itoa(seconds))
	}
	body := errorBody{
		Error:   actionableMessage(s, msg),
		Code:    int32(s.Code()),
		Message: msg,
		Details: []json.RawMessage{},
	}
	for _, d := range s.Proto().GetDetails() {
		// protojson resolves each Any through the global registry, where
		// errdetails registered the google.rpc detail types.
		raw, err := marshalOptions.Marshal(d)
		if err != nil {
			e.logger.Error("marshal error detail", "type", d.GetTypeUrl(), "err", err)
			continue
		}
		body.Details = append(body.Details, raw)
	}
	writeJSON(w, httpStatus, body)
}

// Messages a client sees in the place of what it must not see.
const (
	unavailableMessage = "service unavailable; try again later"
	internalMessage    = "internal error"
	exhaustedMessage   = "the request exceeds a limit of the service"
)

// libraryText matches status messages written by the gRPC libraries (the
// gateway's client, or grpc core in the server) rather than by extrepo: they
// describe the inside (addresses, metadata sizes and keys), not the request.
var libraryText = regexp.MustCompile(`^(grpc: |transport: |connection error|received metadata size|header list size|stream terminated|error reading from server|rpc error:)`)

// publicMessage is the status message a client may read. UNAVAILABLE says
// only that the service is unavailable, unless the extrepo server wrote it
// (its statuses carry a google.rpc.ErrorInfo in the extrepo.io domain: "the
// server is shutting down; retry the call", "another write holds the database
// lock"): the gRPC client's own text names the backend's address ("dial tcp
// 127.0.0.1:50051: connect: connection refused"). INTERNAL, UNKNOWN and DATA_LOSS are never a caller's mistake and
// their text is for the logs. Any other code keeps the server's message,
// unless the gRPC libraries wrote it (RESOURCE_EXHAUSTED "received metadata
// size exceeds ...", with every metadata key and size).
func publicMessage(s *status.Status) string {
	switch s.Code() {
	case codes.Unavailable:
		if fromServer(s) {
			return s.Message()
		}
		return unavailableMessage
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return internalMessage
	}
	if !libraryText.MatchString(s.Message()) {
		return s.Message()
	}
	if s.Code() == codes.ResourceExhausted {
		// grpc core's limits on metadata or message sizes: no rate limit.
		return exhaustedMessage
	}
	return strings.ToLower(http.StatusText(runtime.HTTPStatusFromCode(s.Code())))
}

// serverErrorDomain is the google.rpc.ErrorInfo domain of the extrepo server's
// own statuses (server/extrepo_server/transport/status.py).
const serverErrorDomain = "extrepo.io"

// fromServer says whether the extrepo server wrote the status (rather than a
// gRPC library on either side): it carries an ErrorInfo of the server's domain.
func fromServer(s *status.Status) bool {
	for _, d := range s.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == serverErrorDomain {
			return true
		}
	}
	return false
}

// retryAfter is the Retry-After value, in whole seconds, of a status that
// carries a google.rpc.RetryInfo: its retry_delay rounded up, at least 1
// (RFC 9110 §10.2.3 has no fractions, and 0 would invite an instant retry).
func retryAfter(s *status.Status) (int, bool) {
	for _, d := range s.Details() {
		info, ok := d.(*errdetails.RetryInfo)
		if !ok {
			continue
		}
		seconds := math.Ceil(info.GetRetryDelay().AsDuration().Seconds())
		// A day bounds a corrupt or hostile delay; no limit here lasts longer.
		return int(min(max(seconds, 1), 86400)), true
	}
	return 0, false
}

// actionableMessage is the public message, completed with what a user needs
// to fix the request: each field violation, or how to authenticate.
func actionableMessage(s *status.Status, msg string) string {
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
	if s.Code() == codes.Unauthenticated && !strings.Contains(msg, "Basic") {
		msg += `; send "Authorization: Basic base64(username:apikey)" with an API key`
	}
	return msg
}

// routingErrorHandler answers requests that reach no RPC: 404 for an unknown
// path, 405 (not grpc-gateway's default 501) for a known path with the wrong
// method, 400 for a malformed path. The ServeMux says which of these it is;
// the routes say what to tell the client: the Allow header of a 405 (the
// methods of every route matching the path) and the API's paths for a 404.
// The method and the path are quoted by a short prefix only.
func routingErrorHandler(routes Routes, e *errorWriter) runtime.RoutingErrorHandlerFunc {
	paths := joinList(routes.Paths())
	return func(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
		var st *status.Status
		method, path := prefix(r.Method), prefix(r.URL.Path)
		switch httpStatus {
		case http.StatusMethodNotAllowed:
			allow := strings.Join(routes.Allowed(r.URL.Path), ", ")
			if allow != "" {
				w.Header().Set("Allow", allow)
			}
			st = status.New(codes.Unimplemented, fmt.Sprintf(
				"method %s is not allowed on %s; allowed: %s", method, path, allow))
		case http.StatusNotFound:
			st = status.New(codes.NotFound, fmt.Sprintf(
				"no endpoint at %s %s; the API's paths are %s", method, path, paths))
		case http.StatusBadRequest:
			st = status.New(codes.InvalidArgument, "malformed request path "+path)
		default:
			st = status.New(codes.Internal, http.StatusText(httpStatus))
		}
		e.write(w, r, httpStatus, st)
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
