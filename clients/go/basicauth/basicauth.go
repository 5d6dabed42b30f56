// Package basicauth sends extrepo's credentials with every gRPC call: the
// metadata entry `authorization: Basic base64(username:apikey)`, the same
// header the REST API takes.
package basicauth

import (
	"context"
	"encoding/base64"

	"google.golang.org/grpc/credentials"
)

// Credentials are a user name and one of its API keys.
type Credentials struct {
	header   string
	insecure bool
}

// New returns per-RPC credentials for grpc.WithPerRPCCredentials. They may
// travel over a plaintext connection (extrepo's server listens without TLS,
// on loopback by default); use NewTLSOnly when the server is remote.
func New(username, apiKey string) Credentials {
	return Credentials{header: encode(username, apiKey), insecure: true}
}

// NewTLSOnly is New for connections that must be encrypted: gRPC refuses to
// send them over a plaintext connection.
func NewTLSOnly(username, apiKey string) Credentials {
	return Credentials{header: encode(username, apiKey)}
}

func encode(username, apiKey string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+apiKey))
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c Credentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": c.header}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (c Credentials) RequireTransportSecurity() bool { return !c.insecure }

var _ credentials.PerRPCCredentials = Credentials{}
