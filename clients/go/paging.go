package extrepo

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strconv"

	"google.golang.org/protobuf/proto"

	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

// ListPages calls List with req, then again for each following page, and
// yields each response in turn; it stops after the last page, at the first
// error (yielded with a nil response), or when the loop breaks. Filters and
// the limit stay those of req.
func ListPages(ctx context.Context, client extrepov1.RepositoryServiceClient, req *extrepov1.ListRequest) iter.Seq2[*extrepov1.ListResponse, error] {
	return func(yield func(*extrepov1.ListResponse, error) bool) {
		for req != nil {
			page, err := client.List(ctx, req)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(page, nil) {
				return
			}
			if req, err = nextRequest(req, page.GetMeta()); err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

// ListAll yields every repository of the listing req asks for, page after
// page, in name order (see ListPages); an error is yielded with a nil
// repository and ends the iteration.
//
//	for repo, err := range extrepo.ListAll(ctx, client, &extrepov1.ListRequest{}) {
//		if err != nil { ... }
//		fmt.Println(repo.GetName())
//	}
func ListAll(ctx context.Context, client extrepov1.RepositoryServiceClient, req *extrepov1.ListRequest) iter.Seq2[*extrepov1.Repository, error] {
	return func(yield func(*extrepov1.Repository, error) bool) {
		for page, err := range ListPages(ctx, client, req) {
			if err != nil {
				yield(nil, err)
				return
			}
			for _, repo := range page.GetObjects() {
				if !yield(repo, nil) {
					return
				}
			}
		}
	}
}

// nextRequest is the request for the page after the one whose meta is given,
// or nil after the last page. It is the one place that knows how the next
// page is named: today meta.next is a REST path whose query string holds the
// ListRequest fields (name, registry, limit, offset, cursor); the namespace
// stays the request's.
func nextRequest(req *extrepov1.ListRequest, meta *extrepov1.ListMeta) (*extrepov1.ListRequest, error) {
	if meta.GetNext() == nil {
		return nil, nil
	}
	next, err := url.Parse(meta.GetNext().GetValue())
	if err != nil {
		return nil, fmt.Errorf("extrepo: meta.next %.60q is no path: %w", meta.GetNext().GetValue(), err)
	}
	// Each field the path names replaces the request's; the cursor always
	// does, since the previous page's cursor would point back there.
	query := next.Query()
	out := proto.Clone(req).(*extrepov1.ListRequest)
	out.Cursor = query.Get("cursor")
	if query.Has("name") {
		out.Name = query.Get("name")
	}
	if query.Has("registry") {
		out.Registry = query.Get("registry")
	}
	for key, field := range map[string]*int32{"limit": &out.Limit, "offset": &out.Offset} {
		if !query.Has(key) {
			continue
		}
		n, err := strconv.ParseInt(query.Get(key), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("extrepo: meta.next's %s is no number: %w", key, err)
		}
		*field = int32(n)
	}
	return out, nil
}
