"""extrepo: Docker Cloud's External Repositories API as a gRPC service."""
