package gateway

import (
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
	clientParent  = "00-" + clientTraceID + "-" + clientSpanID + "-01"
)

func TestTracingContinuesTheClientsTraceIntoGRPC(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	f := newFixture(t, nil, WithTracing(provider))
	authorization := "Basic YWxpY2U6ZWtfc2VjcmV0"
	resp, body := request(t, http.MethodGet, f.url+"/api/repo/v1/repository/", "",
		map[string]string{"Traceparent": clientParent, "Authorization": authorization})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}

	var server, client sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindServer:
			server = s
		case trace.SpanKindClient:
			client = s
		}
	}
	if server == nil || client == nil {
		t.Fatalf("want a server and a client span, got %d spans", len(spans.Ended()))
	}
	if server.SpanContext().TraceID().String() != clientTraceID || server.Parent().SpanID().String() != clientSpanID {
		t.Errorf("server span %v does not continue %s", server.Parent(), clientParent)
	}
	if server.Name() != "GET" || client.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("server span %q, client span's parent %v", server.Name(), client.Parent())
	}
	// The gRPC call carried the client span's context, and not the client's
	// header as such (the incoming header matcher forwards none but the id).
	md := f.backend.lastCall()
	want := "00-" + clientTraceID + "-" + client.SpanContext().SpanID().String() + "-01"
	if got := md.Get("traceparent"); len(got) != 1 || got[0] != want {
		t.Errorf("traceparent metadata %q, want %q", got, want)
	}
	if got := md.Get("grpcgateway-traceparent"); len(got) != 0 {
		t.Errorf("the client's header was forwarded as %q", got)
	}
	for _, s := range spans.Ended() {
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.Emit(), "YWxpY2U6") {
				t.Errorf("span %q carries the Authorization value in %s", s.Name(), kv.Key)
			}
		}
	}
	if !strings.Contains(f.log.String(), "trace_id="+clientTraceID) {
		t.Errorf("access log without the trace id:\n%s", f.log.String())
	}
}

func TestWithoutTracingNothingIsPropagated(t *testing.T) {
	f := newFixture(t, nil)
	resp, _ := request(t, http.MethodGet, f.url+"/api/repo/v1/repository/", "",
		map[string]string{"Traceparent": clientParent})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	md := f.backend.lastCall()
	if len(md.Get("traceparent")) != 0 || len(md.Get("grpcgateway-traceparent")) != 0 {
		t.Errorf("trace context reached the server: %v", md)
	}
	if strings.Contains(f.log.String(), "trace_id") {
		t.Errorf("access log has a trace id:\n%s", f.log.String())
	}
}

func TestTracesURL(t *testing.T) {
	for _, tc := range []struct{ endpoint, want string }{
		{"http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"},
		{"https://collector.example.com/", "https://collector.example.com/v1/traces"},
		{"http://collector:4318/otlp", "http://collector:4318/otlp/v1/traces"},
		{"http://collector:4318/v1/traces", "http://collector:4318/v1/traces"},
		{"collector:4318", ""},
		{"grpc://collector:4317", ""},
		{"http://user:pass@collector:4318", ""},
	} {
		got, err := TracesURL(tc.endpoint)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: accepted as %q", tc.endpoint, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.endpoint, got, err, tc.want)
		}
	}
	if spanName("PATCH") != "PATCH" || spanName("MADEUP") != "HTTP" {
		t.Error("span names")
	}
}

func TestHealthChecksMakeNoSpan(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	f := newFixture(t, nil, WithTracing(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
	// Answered from a gRPC health call (501: the stand-in has no health service).
	resp, _ := request(t, http.MethodGet, f.url+HealthPath, "", map[string]string{"Traceparent": clientParent})
	if resp.StatusCode != http.StatusNotImplemented {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, s := range spans.Ended() {
		t.Errorf("span %q (%v) for a health check", s.Name(), s.SpanKind())
	}
}
