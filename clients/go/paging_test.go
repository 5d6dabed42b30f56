package extrepo

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

// The one function that names the next page: meta.next's query fields become
// the next ListRequest's, the namespace stays, the last page ends it.
func TestNextRequest(t *testing.T) {
	req := &extrepov1.ListRequest{Namespace: "acme", Registry: "registry.local", Limit: 2, Cursor: "old"}
	next := func(path string) *extrepov1.ListMeta {
		return &extrepov1.ListMeta{Next: wrapperspb.String(path)}
	}

	got, err := nextRequest(req, next("/api/repo/v1/acme/repository/?registry=registry.local&limit=2&offset=2&cursor=eyJk%3D"))
	if err != nil {
		t.Fatal(err)
	}
	want := &extrepov1.ListRequest{Namespace: "acme", Registry: "registry.local", Limit: 2, Offset: 2, Cursor: "eyJk="}
	if !proto.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if req.GetCursor() != "old" || req.GetOffset() != 0 {
		t.Fatalf("the caller's request was changed: %v", req)
	}

	// A field the path leaves out keeps the request's value, except the cursor.
	got, err = nextRequest(req, next("/api/repo/v1/repository/?offset=4"))
	if err != nil {
		t.Fatal(err)
	}
	if got.GetLimit() != 2 || got.GetRegistry() != "registry.local" || got.GetOffset() != 4 || got.GetCursor() != "" {
		t.Fatalf("got %v", got)
	}

	if got, err := nextRequest(req, &extrepov1.ListMeta{}); got != nil || err != nil {
		t.Fatalf("after the last page: %v, %v", got, err)
	}
	if _, err := nextRequest(req, next("/api/repo/v1/repository/?limit=many")); err == nil {
		t.Fatal("a limit that is no number was taken")
	}
}
