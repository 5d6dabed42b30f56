// Package gateway is extrepo's REST gateway: a grpc-gateway v2 ServeMux built
// from the google.api.http rules of the services listed in services.go,
// wrapped so that it answers like Docker Cloud's original External
// Repositories API (trailing slashes, snake_case JSON, 201/204, an `error` key
// in error bodies, 405 for a wrong method, 415 for a write that is not JSON)
// and answers a caller's mistake with a 4xx that tells nothing of the inside
// (errors.go, request.go, body.go). cmd/extrepo-gateway runs it.
//
// It is a Go module of its own, apart from the client module
// github.com/extrepo/extrepo/clients/go, so that the client's users do not
// inherit grpc-gateway and its dependencies.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// OpenAPIPath is where the gateway serves the OpenAPI v2 description
// generated from the proto (protoc-gen-openapiv2).
const OpenAPIPath = "/api/repo/v1/openapi.json"

// HealthPath is the gateway's health endpoint: 200 with
// {"status": "SERVING"} when the gRPC server's health service says so, 503
// when it is not serving or cannot be reached.
const HealthPath = "/healthz"

// Gateway is the REST front of one gRPC server.
type Gateway struct {
	conn    *grpc.ClientConn
	handler http.Handler
}

// Option configures what New and Wrap build.
type Option func(*options)

type options struct {
	corsOrigins    []string
	serverCA       string
	tracerProvider trace.TracerProvider // nil: no tracing (tracing.go)
}

// WithServerCA makes the gateway talk to the gRPC server over TLS, trusting the
// CA certificates in this PEM file (EXTREPO_TLS_CERT_FILE on the server).
func WithServerCA(pemFile string) Option {
	return func(o *options) { o.serverCA = pemFile }
}

// WithCORSOrigins allows browser access (CORS) from these origins (see
// ParseOrigins); without it, or with none, no origin is allowed.
func WithCORSOrigins(origins []string) Option {
	return func(o *options) { o.corsOrigins = origins }
}

// New connects (lazily, as grpc.NewClient does) to the extrepo gRPC server at
// grpcAddress and builds the HTTP handler. Close releases the connection.
func New(ctx context.Context, grpcAddress string, logger *slog.Logger, opts ...Option) (*Gateway, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	// Plaintext by default: the gateway beside the server on a trusted host, as
	// `make run` starts them. With a CA, TLS to the server (its name checked).
	transport := insecure.NewCredentials()
	if o.serverCA != "" {
		tlsCredentials, err := credentials.NewClientTLSFromFile(o.serverCA, "")
		if err != nil {
			return nil, fmt.Errorf("server CA %s: %w", o.serverCA, err)
		}
		transport = tlsCredentials
	}
	dialOptions := []grpc.DialOption{grpc.WithTransportCredentials(transport)}
	if o.tracerProvider != nil {
		dialOptions = append(dialOptions, tracingDialOption(o.tracerProvider))
	}
	conn, err := grpc.NewClient(grpcAddress, dialOptions...)
	if err != nil {
		return nil, fmt.Errorf("gRPC client for %s: %w", grpcAddress, err)
	}
	routes, err := RoutesOf(serviceNames()...)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("REST routes: %w", err)
	}
	mux := NewServeMux(healthpb.NewHealthClient(conn), routes, logger)
	for _, s := range services {
		if err := s.register(ctx, mux, conn); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("register %s handlers: %w", s.desc.ServiceName, err)
		}
	}
	return &Gateway{conn: conn, handler: Wrap(mux, logger, opts...)}, nil
}

// ServeHTTP serves one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// Close closes the connection to the gRPC server.
func (g *Gateway) Close() error { return g.conn.Close() }

// NewServeMux returns the grpc-gateway ServeMux with the options that make it
// answer as the original API did. The caller registers on it the handlers of
// the services whose routes are given; the routes say which methods a path
// takes when a request reaches none (405 and its Allow header, or 404). A nil
// health client serves no health endpoint (for tests). The logger receives
// what error answers must not show (errors.go).
func NewServeMux(health healthpb.HealthClient, routes Routes, logger *slog.Logger) *runtime.ServeMux {
	errs := &errorWriter{logger: logger}
	opts := []runtime.ServeMuxOption{
		// The marshaler and the query parser are grpc-gateway's, with
		// short, readable parsing errors (decode.go). The query parser is
		// process-wide in grpc-gateway; it parses exactly as the default.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, newJSONMarshaler()),
		runtime.SetQueryParameterParser(&queryParser{}),
		runtime.WithErrorHandler(errs.handle),
		runtime.WithRoutingErrorHandler(routingErrorHandler(routes, errs)),
		// Writes take JSON only, and their bodies are read first (body.go).
		runtime.WithMiddlewares(bodyPolicy(errs)),
		runtime.WithForwardResponseOption(successStatus),
		// gRPC-only response fields never reach a REST answer (grpconly.go).
		runtime.WithForwardResponseRewriter(withoutGRPCOnlyFields),
		// Only Authorization reaches the server (runtime.AnnotateContext
		// forwards it as `authorization` whatever the matcher says, and
		// adds x-forwarded-for and x-forwarded-host). The default matcher
		// would forward it a second time as `grpcgateway-authorization`,
		// with every other standard header as grpcgateway-* and any
		// Grpc-Metadata-* header a client chose: doubling an API key's
		// exposure and the metadata's size (request.go bounds it).
		// The request id is the one other header forwarded (requestid.go).
		runtime.WithIncomingHeaderMatcher(requestIDOnly),
		// `{name=**}` also matches zero segments: without this, GET
		// /api/repo/v1/repository could reach Get with an empty name if the
		// rules were ever reordered. The proto orders them right as well.
		runtime.WithStrictDeepWildcardMatching(),
		// grpc-gateway would serve a form-encoded POST to a GET route as
		// that GET; the original API never did, and a POST must not read.
		runtime.WithDisablePathLengthFallback(),
		// The gRPC response headers (content-type, grpc-accept-encoding)
		// say nothing to a REST client; grpc-gateway would forward them as
		// Grpc-Metadata-* headers, and the trailers as Grpc-Trailer-* HTTP
		// trailers to a client that sends "TE: trailers".
		runtime.WithOutgoingHeaderMatcher(noHeaders),
		runtime.WithOutgoingTrailerMatcher(noHeaders),
	}
	if health != nil {
		opts = append(opts, runtime.WithHealthEndpointAt(health, HealthPath))
	}
	return runtime.NewServeMux(opts...)
}

// noHeaders forwards no header as gRPC metadata (see NewServeMux).
func noHeaders(string) (string, bool) { return "", false }

// Wrap puts around the ServeMux what must happen before routing (the
// request checks, a trailing slash removed, the OpenAPI file) and around
// every request (the access log, CORS, the body limit, the 204 writer).
func Wrap(mux http.Handler, logger *slog.Logger, opts ...Option) http.Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	errs := &errorWriter{logger: logger}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == OpenAPIPath {
			serveOpenAPI(w, r, errs)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		mux.ServeHTTP(w, r)
	})
	h = stripTrailingSlash(h)
	h = checkRequest(h, errs)
	h = withCORS(h, o.corsOrigins)
	h = withRequestID(accessLog(h, logger))
	if o.tracerProvider != nil {
		h = traced(h, o.tracerProvider)
	}
	return h
}
