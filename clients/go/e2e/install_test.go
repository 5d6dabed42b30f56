package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallAsUser uses the client as someone outside this repository would:
// a fresh module in a temporary directory that requires
// github.com/extrepo/extrepo/clients/go (a `replace` points it at this work
// tree, in place of the tag clients/go/vX.Y.Z), holds the README's example as
// its main.go, resolves its dependencies with `go mod tidy`, and runs against
// the live server. Neither its module graph nor its binary may hold
// grpc-gateway: that is the gateway module's alone.
func TestInstallAsUser(t *testing.T) {
	liveServer(t)
	clientDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	example, err := os.ReadFile(filepath.Join(clientDir, "examples", "quickstart", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "quickstart")
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		// Outside any workspace; the module's own go.mod decides.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("mod", "init", "example.com/quickstart")
	goCmd("mod", "edit", "-replace", "github.com/extrepo/extrepo/clients/go="+clientDir)
	goCmd("mod", "tidy")
	goCmd("build", "-o", bin, ".")

	for what, out := range map[string]string{
		"module graph": goCmd("list", "-m", "all"),
		"binary":       goCmd("version", "-m", bin),
	} {
		if !strings.Contains(out, "google.golang.org/grpc") {
			t.Fatalf("the %s does not look like a gRPC client's:\n%s", what, out)
		}
		if strings.Contains(out, "grpc-gateway") {
			t.Errorf("the client's %s holds grpc-gateway:\n%s", what, out)
		}
	}

	cmd := exec.Command(bin)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	checkQuickstartOutput(t, string(out))
}
