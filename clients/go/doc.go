// Package extrepo is the Go client of extrepo, Docker Cloud's External
// Repositories API over gRPC: a connection helper with Basic API-key
// credentials and TLS options (Dial), an iterator over every page of a
// listing (ListAll, ListPages), and the field violations of an
// INVALID_ARGUMENT (FieldViolations). The messages and the generated gRPC
// client are in the package extrepov1
// (github.com/extrepo/extrepo/clients/go/extrepo/v1).
//
// The module depends on gRPC and protobuf only; the REST gateway is a module
// of its own (clients/go/gateway), so a client never links grpc-gateway.
package extrepo
