// The package's public surface: the generated messages and service
// descriptor, plus the hand-written client helper.
export * from "./gen/extrepo/v1/repository_service_pb.js";
export { basicAuth, createRepositoryClient } from "./client.js";
export type { ClientOptions, RepositoryClient } from "./client.js";
