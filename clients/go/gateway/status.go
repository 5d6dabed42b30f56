package gateway

import (
	"context"
	"net/http"

	"google.golang.org/protobuf/proto"

	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

// successStatus sets the HTTP status of a successful answer from the type of
// the RPC's response. The server sends no `x-http-code` metadata: the HTTP
// codes belong to the REST surface, not to the service. The original API was
// a Django/Tastypie service, which answers a POST that creates with
// 201 Created (and a Location header) and a DELETE with 204 No Content;
// Docker Cloud's SDKs accept exactly those. Everything else is 200 OK.
//
// The switch is on the message behind m: with `response_body` the generated
// handlers pass a wrapper type (response_RepositoryService_Create_0) that
// embeds *CreateResponse, so a type switch on m itself would never match.
func successStatus(ctx context.Context, w http.ResponseWriter, m proto.Message) error {
	setActionURI(ctx, w)
	switch resp := m.ProtoReflect().Interface().(type) {
	case *extrepov1.CreateResponse:
		if uri := resp.GetRepository().GetResourceUri(); uri != "" {
			w.Header().Set("Location", uri)
		}
		w.WriteHeader(http.StatusCreated)
	case *extrepov1.DeleteResponse:
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}
