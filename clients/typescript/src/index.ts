// The package's public surface: the generated messages and service
// descriptor, the google.rpc error details, and the hand-written helpers.
export * from "./gen/extrepo/v1/repository_service_pb.js";
export * from "./gen/google/rpc/error_details_pb.js";
export { basicAuth, createRepositoryClient } from "./client.js";
export type { ClientOptions, RepositoryClient } from "./client.js";
export { fieldViolations } from "./errors.js";
export { listAll, listPages } from "./paging.js";
export type { ListRequestInit } from "./paging.js";
