"""The limit: an empty unary RPC on a grpc.aio server set up like extrepo's.

`bench.v1.EmptyService/Call` (bench/proto/empty.proto) answers an empty message at
once, on the same server type and event loop as extrepo, with no interceptor, so a
load generator measures what a Python grpcio server does per call at all here.

    python bench/empty_server.py --port-file FILE
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import grpc

_EMPTY = b""


async def _call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return _EMPTY


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1:0")
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    server = grpc.aio.server()
    # Messages pass as raw bytes: an empty message is zero bytes on the wire.
    handler = grpc.method_handlers_generic_handler(
        "bench.v1.EmptyService", {"Call": grpc.unary_unary_rpc_method_handler(_call)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port(args.address)
    await server.start()
    args.port_file.write_text(str(port))
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main())
