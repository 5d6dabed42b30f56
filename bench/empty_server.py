"""The limit: an empty unary RPC on a grpc.aio server set up like extrepo's.

`bench.v1.EmptyService/Call` (bench/proto/empty.proto) answers an empty message at
once, on the same server type and event loop as extrepo, with no interceptor, so a
load generator measures what a Python grpcio server does per call at all here.
`--threads N` serves it from the classic thread-pool server instead, to compare the
two concurrency models.

    python bench/empty_server.py --port-file FILE [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

_EMPTY = b""


async def _call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return _EMPTY


def _sync_call(request: bytes, context: grpc.ServicerContext) -> bytes:
    return _EMPTY


def _handler(call) -> grpc.GenericRpcHandler:
    # Messages pass as raw bytes: an empty message is zero bytes on the wire.
    return grpc.method_handlers_generic_handler(
        "bench.v1.EmptyService", {"Call": grpc.unary_unary_rpc_method_handler(call)}
    )


def serve_threads(address: str, port_file: Path, threads: int) -> None:
    server = grpc.server(ThreadPoolExecutor(max_workers=threads))
    server.add_generic_rpc_handlers((_handler(_sync_call),))
    port = server.add_insecure_port(address)
    server.start()
    port_file.write_text(str(port))
    server.wait_for_termination()


async def serve_aio(address: str, port_file: Path) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(_call),))
    port = server.add_insecure_port(address)
    await server.start()
    port_file.write_text(str(port))
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="127.0.0.1:0")
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=0, help="thread-pool server with N threads")
    args = parser.parse_args()
    if args.threads:
        serve_threads(args.address, args.port_file, args.threads)
    else:
        asyncio.run(serve_aio(args.address, args.port_file))


if __name__ == "__main__":
    main()
