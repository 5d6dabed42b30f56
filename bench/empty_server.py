"""The limit: an empty unary RPC on a grpc.aio server set up like extrepo's.

Serves only the standard health service (Check is a dictionary lookup) on the same
server type and event loop as extrepo, with no interceptor, so that load generators
can measure what a Python grpcio server does per call at all on this machine.

    python bench/empty_server.py --port-file FILE
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1:0")
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    # Reflection lets load generators find Check without a .proto file; it adds
    # nothing to the cost of a Check call.
    reflection.enable_server_reflection(
        (health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
        server,
    )
    port = server.add_insecure_port(args.address)
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    args.port_file.write_text(str(port))
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main())
