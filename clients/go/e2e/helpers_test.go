package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	extrepo "github.com/extrepo/extrepo/clients/go"
	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialHelper(t *testing.T, address string, options ...extrepo.Option) *extrepo.Client {
	t.Helper()
	client, err := extrepo.Dial(address, options...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// countLists counts the List calls made through a connection.
func countLists(calls *atomic.Int32) extrepo.Option {
	return extrepo.WithDialOptions(grpc.WithChainUnaryInterceptor(
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if strings.HasSuffix(method, "/List") {
				calls.Add(1)
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		}))
}

func TestDialAndListAllPages(t *testing.T) {
	s := liveServer(t)
	var lists atomic.Int32
	client := dialHelper(t, s.address, extrepo.WithBasicAuth(s.username, s.apiKey), countLists(&lists))
	ctx := testContext(t)

	// The connection serves the standard health service too.
	health, err := healthpb.NewHealthClient(client.Conn()).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", health, err)
	}

	var want []string
	for i := range 7 {
		want = append(want, fmt.Sprintf("pages.example.io/team/app-%d", i))
	}
	// One on another registry, which the filter must leave out on every page.
	for _, n := range append(slices.Clone(want), "other.example.io/team/app") {
		if _, err := client.Create(ctx, &extrepov1.CreateRequest{Name: n, Username: "u", Password: "p"}); err != nil {
			t.Fatalf("create %s: %v", n, err)
		}
		t.Cleanup(func() { _, _ = client.Delete(context.Background(), &extrepov1.DeleteRequest{Name: n}) })
	}

	req := &extrepov1.ListRequest{Registry: "pages.example.io", Limit: 3}
	var sizes []int
	lists.Store(0)
	for page, err := range extrepo.ListPages(ctx, client, req) {
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.GetObjects()))
		if page.GetMeta().GetTotalCount() != 7 {
			t.Fatalf("total_count %d", page.GetMeta().GetTotalCount())
		}
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) || lists.Load() != 3 {
		t.Fatalf("page sizes %v in %d calls, want [3 3 1] in 3", sizes, lists.Load())
	}

	var got []string
	for repo, err := range extrepo.ListAll(ctx, client, req) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, repo.GetName())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ListAll: %v, want %v", got, want)
	}
	if req.GetOffset() != 0 || req.GetCursor() != "" {
		t.Fatalf("ListAll changed the caller's request: %v", req)
	}

	// Breaking out of the loop asks for no further page.
	lists.Store(0)
	for range extrepo.ListAll(ctx, client, req) {
		break
	}
	if lists.Load() != 1 {
		t.Fatalf("%d List calls after a break on the first item", lists.Load())
	}

	// An error ends the iteration, with its field violations.
	var errs []error
	for repo, err := range extrepo.ListAll(ctx, client, &extrepov1.ListRequest{Limit: 1000, Offset: -1}) {
		if repo != nil {
			t.Fatalf("yielded %v for a bad request", repo)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 || status.Code(errs[0]) != codes.InvalidArgument {
		t.Fatalf("errors %v", errs)
	}
	var fields []string
	for _, v := range extrepo.FieldViolations(errs[0]) {
		fields = append(fields, v.GetField())
		if v.GetDescription() == "" {
			t.Errorf("violation of %s has no description", v.GetField())
		}
	}
	if slices.Sort(fields); !slices.Equal(fields, []string{"limit", "offset"}) {
		t.Fatalf("field violations %v, want limit and offset", fields)
	}
}

func TestFieldViolationsOfOtherErrors(t *testing.T) {
	s := liveServer(t)
	client := dialHelper(t, s.address, extrepo.WithBasicAuth(s.username, s.apiKey))
	_, err := client.Get(testContext(t), &extrepov1.GetRequest{Name: "registry.local/never/made"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("want NOT_FOUND, got %v", err)
	}
	for _, e := range []error{nil, err, io.EOF} {
		if v := extrepo.FieldViolations(e); v != nil {
			t.Errorf("FieldViolations(%v) = %v, want nil", e, v)
		}
	}
}

func TestDialWithoutCredentialsIsUnauthenticated(t *testing.T) {
	s := liveServer(t)
	client := dialHelper(t, s.address)
	_, err := client.List(testContext(t), &extrepov1.ListRequest{})
	wantCode(t, err, codes.Unauthenticated)
}

// TestDialTLS reaches the live server through a TLS proxy with a self-signed
// certificate (the server itself listens in plaintext, as it would behind a
// TLS-terminating proxy): the CA options connect and authenticate, the
// system roots and a plaintext connection do not.
func TestDialTLS(t *testing.T) {
	s := liveServer(t)
	caFile, certPool, proxy := tlsProxy(t, s.address)
	auth := extrepo.WithBasicAuth(s.username, s.apiKey)

	for name, option := range map[string]extrepo.Option{
		"WithCAFile": extrepo.WithCAFile(caFile),
		"WithTLS":    extrepo.WithTLS(&tls.Config{RootCAs: certPool}),
	} {
		client := dialHelper(t, proxy, option, auth)
		if _, err := client.List(testContext(t), &extrepov1.ListRequest{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	client := dialHelper(t, proxy, extrepo.WithTLS(nil), auth)
	_, err := client.List(testContext(t), &extrepov1.ListRequest{})
	if st := wantCode(t, err, codes.Unavailable); !strings.Contains(st.Message(), "certificate") {
		t.Errorf("system roots: want a certificate error, got %v", st.Message())
	}
	plain := dialHelper(t, proxy, auth)
	_, err = plain.List(testContext(t), &extrepov1.ListRequest{})
	wantCode(t, err, codes.Unavailable)

	if _, err := extrepo.Dial(proxy, extrepo.WithCAFile(filepath.Join(t.TempDir(), "missing.pem"))); err == nil {
		t.Error("Dial took a CA file that does not exist")
	}
}

// tlsProxy listens with TLS (ALPN h2, a fresh self-signed certificate for
// 127.0.0.1) and forwards each connection's bytes to the plaintext target.
// It returns the certificate's PEM file and pool, and the proxy's address.
func tlsProxy(t *testing.T, target string) (string, *x509.CertPool, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "extrepo test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		NextProtos:   []string{"h2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer out.Close()
				go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
				_, _ = io.Copy(in, out)
			}()
		}
	}()
	return caFile, pool, ln.Addr().String()
}
