package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

// backend is a real gRPC server on a loopback port standing in for extrepo's:
// every RPC records the metadata it received and answers with reply (an OK
// with an empty message when reply is nil). The gateway in front of it is
// the real one, built by New, over real TCP.
type backend struct {
	extrepov1.UnimplementedRepositoryServiceServer

	mu    sync.Mutex
	calls []metadata.MD
	reply error // the error every RPC answers; nil: success
}

func (b *backend) record(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, md)
	return b.reply
}

func (b *backend) setReply(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reply = err
}

// lastCall is the metadata of the last call, nil when no call arrived.
func (b *backend) lastCall() metadata.MD {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.calls) == 0 {
		return nil
	}
	return b.calls[len(b.calls)-1]
}

func (b *backend) callCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.calls)
}

func (b *backend) Get(ctx context.Context, _ *extrepov1.GetRequest) (*extrepov1.GetResponse, error) {
	// Metadata of the server's own, which a REST client must not see.
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-backend-header", "inside"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-backend-trailer", "inside"))
	if err := b.record(ctx); err != nil {
		return nil, err
	}
	return &extrepov1.GetResponse{}, nil
}

func (b *backend) List(ctx context.Context, _ *extrepov1.ListRequest) (*extrepov1.ListResponse, error) {
	if err := b.record(ctx); err != nil {
		return nil, err
	}
	return &extrepov1.ListResponse{}, nil
}

func (b *backend) Create(ctx context.Context, _ *extrepov1.CreateRequest) (*extrepov1.CreateResponse, error) {
	if err := b.record(ctx); err != nil {
		return nil, err
	}
	return &extrepov1.CreateResponse{}, nil
}

// fixture is a gateway in front of a backend, and what the gateway logged.
type fixture struct {
	backend *backend
	url     string
	log     *syncBuffer
}

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// newFixture starts a backend and the gateway in front of it; configure, if
// given, adjusts the gateway's http.Server before it starts.
func newFixture(t *testing.T, configure func(*http.Server), opts ...Option) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{}
	gs := grpc.NewServer()
	extrepov1.RegisterRepositoryServiceServer(gs, b)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)

	log := &syncBuffer{}
	gw, err := New(context.Background(), ln.Addr().String(), slog.New(slog.NewTextHandler(log, nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(gw)
	srv.Config.MaxHeaderBytes = MaxHeaderBytes
	if configure != nil {
		configure(srv.Config)
	}
	srv.Start()
	t.Cleanup(func() { srv.Close(); _ = gw.Close() })
	return &fixture{backend: b, url: srv.URL, log: log}
}

// request sends one request; body "" sends none. It returns the answer and
// its body.
func request(t *testing.T, method, url, body string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
