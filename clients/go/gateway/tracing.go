package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Tracing (OpenTelemetry) is off unless WithTracing is given: then every REST
// request is a server span (otelhttp) continuing the caller's W3C
// `traceparent` header, or starting a trace, and its call to the gRPC server a
// client span beneath it (otelgrpc's stats handler), which sends its own
// `traceparent` as gRPC metadata; the server's span continues from that one.
// Headers are never recorded in spans (Authorization carries an API key), nor
// query values beyond what otelhttp records of the URL, which holds none of
// them in this API. Health checks (HealthPath, and the gRPC health calls it
// makes) make no span.

// tracesPath is where an OTLP/HTTP collector takes traces, under its base URL.
const tracesPath = "/v1/traces"

// TracesURL is where spans go for an -otlp-endpoint: a base URL as
// OTEL_EXPORTER_OTLP_ENDPOINT reads it, traces going to /v1/traces under it
// (a URL already ending so is kept). An error for anything but an http(s) URL
// with a host and no credentials.
func TracesURL(endpoint string) (string, error) {
	// The value is never quoted back: a mistyped one might hold a credential.
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("not an http(s) URL of an OTLP/HTTP collector (e.g. http://127.0.0.1:4318)")
	}
	if u.User != nil {
		return "", errors.New("give no credentials in the URL (they would be logged); OTEL_EXPORTER_OTLP_HEADERS carries a collector's")
	}
	base := strings.TrimRight(endpoint, "/")
	if strings.HasSuffix(base, tracesPath) {
		return base, nil
	}
	return base + tracesPath, nil
}

// NewTracerProvider exports spans in batches, from a goroutine of their own,
// to the OTLP/HTTP collector at endpoint (see TracesURL). The standard
// variables still apply: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (else
// the service is extrepo-gateway), OTEL_TRACES_SAMPLER and its _ARG (default:
// parentbased_always_on), OTEL_BSP_* (the batch's delay and queue) and the
// exporter's OTEL_EXPORTER_OTLP_* (headers, timeout, TLS). Shutdown exports
// what is still queued.
func NewTracerProvider(ctx context.Context, endpoint, version string) (*sdktrace.TracerProvider, error) {
	traces, err := TracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(traces))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	ours := resource.NewSchemaless(
		attribute.String("service.name", "extrepo-gateway"),
		attribute.String("service.version", version),
	)
	// The environment's attributes (OTEL_SERVICE_NAME...) win over ours.
	res, err := resource.Merge(ours, resource.Environment())
	if err != nil {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	if merged, err := resource.Merge(resource.Default(), res); err == nil {
		res = merged // with telemetry.sdk.*; kept out if the schemas disagree
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res)), nil
}

// WithTracing traces requests with this provider (see above); propagation is
// W3C Trace Context, inbound from HTTP and outbound to gRPC.
func WithTracing(provider trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = provider }
}

var traceContext = propagation.TraceContext{}

// tracingDialOption is the gRPC client's stats handler that makes a span of
// each call and sends its context as `traceparent` metadata.
func tracingDialOption(provider trace.TracerProvider) grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(provider),
		otelgrpc.WithPropagators(traceContext),
		// /healthz asks the server's health service: no span, as for /healthz.
		otelgrpc.WithFilter(filters.Not(filters.ServiceName(healthpb.Health_ServiceDesc.ServiceName))),
	))
}

// traced is next in a server span per request, the outermost handler, so that
// the span covers everything the gateway does and the access log sees it.
func traced(next http.Handler, provider trace.TracerProvider) http.Handler {
	return otelhttp.NewHandler(next, "extrepo-gateway",
		otelhttp.WithTracerProvider(provider),
		otelhttp.WithPropagators(traceContext),
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != HealthPath }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return spanName(r.Method) }),
	)
}

// spanName is a request's method, as the HTTP conventions name a server span
// whose route template is not known here (grpc-gateway matches it later), or
// "HTTP" for a method outside the standard ones: a client's made-up methods
// must not each become a span name.
func spanName(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "HTTP"
}
