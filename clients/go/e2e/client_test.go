// Package e2e drives the generated Go client against a live extrepo server:
// `make test-go` starts one through tests/support/with_server.py, which sets
// EXTREPO_ADDRESS, EXTREPO_USERNAME and EXTREPO_API_KEY.
package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/extrepo/extrepo/clients/go/basicauth"
	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

type server struct{ address, username, apiKey string }

func liveServer(t *testing.T) server {
	t.Helper()
	s := server{os.Getenv("EXTREPO_ADDRESS"), os.Getenv("EXTREPO_USERNAME"), os.Getenv("EXTREPO_API_KEY")}
	if s.address == "" || s.username == "" || s.apiKey == "" {
		msg := "no live server: run through `python -m tests.support.with_server -- go test ./...` (make test-go)"
		if os.Getenv("EXTREPO_REQUIRE_SERVER") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return s
}

func dial(t *testing.T, s server, apiKey string) extrepov1.RepositoryServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(s.address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(basicauth.New(s.username, apiKey)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return extrepov1.NewRepositoryServiceClient(conn)
}

func wantCode(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("want %v, got %v (%v)", want, got, err)
	}
	return status.Convert(err)
}

func TestClientCycle(t *testing.T) {
	s := liveServer(t)
	client := dial(t, s, s.apiKey)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	names := []string{"go.example.io/team/app", "go.example.io/team/lib", "localhost:5000/team/app"}
	for _, n := range names {
		resp, err := client.Create(ctx, &extrepov1.CreateRequest{Name: n, Username: "u", Password: "p"})
		if err != nil {
			t.Fatalf("create %s: %v", n, err)
		}
		r := resp.GetRepository()
		if r.GetName() != n || r.GetInUse() || r.GetNamespace() != s.username {
			t.Fatalf("created %v", r)
		}
		if want := "/api/repo/v1/" + s.username + "/repository/" + n + "/"; r.GetResourceUri() != want {
			t.Fatalf("resource_uri %q, want %q", r.GetResourceUri(), want)
		}
	}
	_, err := client.Create(ctx, &extrepov1.CreateRequest{Name: names[0], Username: "u", Password: "p"})
	wantCode(t, err, codes.AlreadyExists)

	got, err := client.Get(ctx, &extrepov1.GetRequest{Name: names[2]})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetRepository().GetRegistry() != "/api/repo/v1/"+s.username+"/registry/localhost:5000/" {
		t.Fatalf("registry %q", got.GetRepository().GetRegistry())
	}

	// List with a filter: the two repositories on go.example.io, by name.
	page, err := client.List(ctx, &extrepov1.ListRequest{Registry: "go.example.io", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	meta := page.GetMeta()
	if meta.GetTotalCount() != 2 || len(page.GetObjects()) != 1 || page.GetObjects()[0].GetName() != names[0] {
		t.Fatalf("page %v", page)
	}
	if meta.GetPrevious() != nil || !strings.HasPrefix(meta.GetNext().GetValue(), "/api/") {
		t.Fatalf("meta %v", meta)
	}
	byName, err := client.List(ctx, &extrepov1.ListRequest{Name: names[1]})
	if err != nil {
		t.Fatal(err)
	}
	if len(byName.GetObjects()) != 1 || byName.GetObjects()[0].GetName() != names[1] || byName.GetMeta().GetNext() != nil {
		t.Fatalf("name filter: %v", byName)
	}

	before := got.GetRepository().GetUpdateTime().AsTime()
	upd, err := client.Update(ctx, &extrepov1.UpdateRequest{Name: names[2], Username: proto.String("u2")})
	if err != nil {
		t.Fatal(err)
	}
	if upd.GetRepository().GetUpdateTime().AsTime().Before(before) {
		t.Fatalf("update_time went back: %v", upd.GetRepository())
	}
	// An update with nothing to change is refused, naming the fields.
	_, err = client.Update(ctx, &extrepov1.UpdateRequest{Name: names[2]})
	st := wantCode(t, err, codes.InvalidArgument)
	var violations int
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			violations += len(br.GetFieldViolations())
		}
	}
	if violations == 0 {
		t.Fatalf("no field violations in %v", st.Proto())
	}

	for _, n := range names {
		if _, err := client.Delete(ctx, &extrepov1.DeleteRequest{Name: n}); err != nil {
			t.Fatalf("delete %s: %v", n, err)
		}
	}
	_, err = client.Get(ctx, &extrepov1.GetRequest{Name: names[0]})
	wantCode(t, err, codes.NotFound)
	_, err = client.Delete(ctx, &extrepov1.DeleteRequest{Name: names[0]})
	wantCode(t, err, codes.NotFound)
}

func TestWrongKeyIsUnauthenticated(t *testing.T) {
	s := liveServer(t)
	client := dial(t, s, s.apiKey+"x")
	_, err := client.List(context.Background(), &extrepov1.ListRequest{})
	wantCode(t, err, codes.Unauthenticated)
}

// TestReadmeExample runs examples/quickstart, the program the README shows,
// and checks that the README shows it verbatim.
func TestReadmeExample(t *testing.T) {
	liveServer(t)
	example, err := os.ReadFile("../examples/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(example)+"```") {
		t.Error("README.md does not show examples/quickstart/main.go verbatim")
	}
	bin := filepath.Join(t.TempDir(), "quickstart")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/quickstart").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	checkQuickstartOutput(t, string(out))
}

func checkQuickstartOutput(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{
		"created /api/repo/v1/", "on registry.local: registry.local/user1/image1", "deleted", "gone:",
		"invalid name: ", "invalid password: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
