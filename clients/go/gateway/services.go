package gateway

import (
	"context"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
	extrepov1gw "github.com/extrepo/extrepo/clients/go/gateway/internal/gen/extrepo/v1"
)

// service is one row of services: a gRPC service the gateway serves.
type service struct {
	// desc is the generated descriptor of the service; its name finds the
	// proto descriptor whose google.api.http rules are the REST routes.
	desc *grpc.ServiceDesc
	// register is the generated function that registers the service's
	// handlers (protoc-gen-grpc-gateway, buf.gen.go.yaml) on the mux.
	register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
}

// services is every service the gateway serves. The handlers, the Allow header
// of a 405 and the paths a 404 lists all come from these rows, so serving a
// new service is adding its row once `make generate` has made its handlers.
//
// The order matters where two services' routes overlap: the ServeMux tries
// the handler registered last first, so a row whose routes must win such an
// overlap comes after the other (within a service, the proto's RPC order
// decides the same way; see proto/extrepo/v1/repository_service.proto).
var services = []service{
	{&extrepov1.RepositoryService_ServiceDesc, extrepov1gw.RegisterRepositoryServiceHandler},
	{&extrepov1.RegistryService_ServiceDesc, extrepov1gw.RegisterRegistryServiceHandler},
	{&extrepov1.ActionService_ServiceDesc, extrepov1gw.RegisterActionServiceHandler},
}

// serviceNames lists the full names of the served services, for RoutesOf.
func serviceNames() []string {
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = s.desc.ServiceName
	}
	return names
}
