"""gRPC transport: message conversion, the call interceptor, status mapping."""
