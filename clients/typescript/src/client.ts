// Hand-written convenience around the generated code in ./gen: a Connect
// client for extrepo.v1.RepositoryService over gRPC (HTTP/2), with the Basic
// credentials extrepo expects on every call.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RepositoryService } from "./gen/extrepo/v1/repository_service_pb.js";

/** A client of extrepo.v1.RepositoryService: one method per RPC. */
export type RepositoryClient = Client<typeof RepositoryService>;

/** Where the server is and whom to authenticate as. */
export interface ClientOptions {
  /** `host:port` (plaintext gRPC), or a full `http://` or `https://` URL. */
  address: string;
  /** The extrepo account's user name. */
  username: string;
  /** An API key of that account (not a password). */
  apiKey: string;
}

/**
 * An interceptor that sends `authorization: Basic base64(username:apikey)`,
 * the metadata extrepo authenticates every call with.
 */
export function basicAuth(username: string, apiKey: string): Interceptor {
  const value = `Basic ${Buffer.from(`${username}:${apiKey}`, "utf8").toString("base64")}`;
  return (next) => async (req) => {
    req.header.set("authorization", value);
    return next(req);
  };
}

/**
 * Creates a RepositoryService client. A bare `host:port` means plaintext
 * gRPC, as `extrepo-server serve` listens; give `https://host:port` for TLS.
 * The HTTP/2 connection is opened on the first call and does not keep the
 * process alive when idle.
 */
export function createRepositoryClient(options: ClientOptions): RepositoryClient {
  const baseUrl = /^https?:\/\//.test(options.address)
    ? options.address
    : `http://${options.address}`;
  const transport = createGrpcTransport({
    baseUrl,
    interceptors: [basicAuth(options.username, options.apiKey)],
  });
  return createClient(RepositoryService, transport);
}
