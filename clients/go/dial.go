package extrepo

import (
	"crypto/tls"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/extrepo/extrepo/clients/go/basicauth"
	extrepov1 "github.com/extrepo/extrepo/clients/go/extrepo/v1"
)

// DefaultAddress is where `extrepo-server serve` listens unless told otherwise.
const DefaultAddress = "127.0.0.1:50051"

// Client is a RepositoryService client over its own connection: call the RPCs
// on it (client.Get, client.List, ...) and Close it when done.
type Client struct {
	extrepov1.RepositoryServiceClient
	conn *grpc.ClientConn
}

// Conn is the underlying connection, for other services on the same server
// (the standard health service, for example).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

type settings struct {
	username, apiKey string
	auth             bool
	tls              *tls.Config
	useTLS           bool
	caFile           string
	extra            []grpc.DialOption
}

// An Option configures Dial.
type Option func(*settings)

// WithBasicAuth sends `authorization: Basic base64(username:apiKey)` on every
// call: an extrepo user name and one of its API keys
// (`extrepo-server admin key create USER`).
func WithBasicAuth(username, apiKey string) Option {
	return func(s *settings) { s.username, s.apiKey, s.auth = username, apiKey, true }
}

// WithTLS connects over TLS with this configuration; nil verifies the server
// against the system's roots under the address's host name. Without a TLS
// option the connection is plaintext, the way `extrepo-server serve` listens
// (on loopback by default, or behind whatever terminates TLS).
func WithTLS(config *tls.Config) Option {
	return func(s *settings) { s.useTLS, s.tls = true, config }
}

// WithCAFile connects over TLS and trusts the server certificates signed by
// the CA certificates in this PEM file (a private CA, or a self-signed
// server certificate), instead of the system's roots.
func WithCAFile(path string) Option {
	return func(s *settings) { s.useTLS, s.caFile = true, path }
}

// WithDialOptions passes more options to grpc.NewClient (interceptors, a
// service config, keepalive...). They are applied after Dial's own.
func WithDialOptions(options ...grpc.DialOption) Option {
	return func(s *settings) { s.extra = append(s.extra, options...) }
}

// Dial returns a client of the extrepo server at address (`host:port`, or
// any gRPC target; "" means DefaultAddress). Like grpc.NewClient it does not
// connect yet: the first call does, and a server that cannot be reached is
// that call's UNAVAILABLE error.
//
// Over TLS the Basic credentials are sent only on an encrypted connection;
// without TLS they travel in plaintext, so use TLS whenever the network
// between the client and the server is not trusted.
func Dial(address string, options ...Option) (*Client, error) {
	var s settings
	for _, option := range options {
		option(&s)
	}
	if address == "" {
		address = DefaultAddress
	}
	transport := insecure.NewCredentials()
	if s.useTLS {
		if s.caFile != "" {
			var err error
			if transport, err = credentials.NewClientTLSFromFile(s.caFile, ""); err != nil {
				return nil, fmt.Errorf("extrepo: CA file: %w", err)
			}
		} else {
			transport = credentials.NewTLS(s.tls)
		}
	}
	dialOptions := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithUserAgent("extrepo-go/" + Version),
	}
	if s.auth {
		creds := basicauth.New(s.username, s.apiKey)
		if s.useTLS {
			creds = basicauth.NewTLSOnly(s.username, s.apiKey)
		}
		dialOptions = append(dialOptions, grpc.WithPerRPCCredentials(creds))
	}
	conn, err := grpc.NewClient(address, append(dialOptions, s.extra...)...)
	if err != nil {
		return nil, fmt.Errorf("extrepo: %w", err)
	}
	return &Client{RepositoryServiceClient: extrepov1.NewRepositoryServiceClient(conn), conn: conn}, nil
}
