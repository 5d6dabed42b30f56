"""A TCP proxy on a loopback port in front of the real server, for what the server
itself does not do yet (TLS) or should not do on purpose (drop connections).

It forwards bytes only: the gRPC calls are still answered by the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading


class Proxy:
    """Listens on 127.0.0.1:<free port> and pipes each connection to `target`.

    `tls`: terminate TLS with this server context (ALPN h2, as gRPC requires).
    `drop_first`: close the first N connections at once, as a server going away does.
    `hold`: accept connections and never answer, as a server that hangs does.
    """

    def __init__(
        self,
        target: str,
        *,
        tls: ssl.SSLContext | None = None,
        drop_first: int = 0,
        hold: bool = False,
    ) -> None:
        self.target_host, port = target.rsplit(":", 1)
        self.target_port = int(port)
        self.tls = tls
        self.drop_first = drop_first
        self.hold = hold
        self.connections = 0
        self.port: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Proxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._held:
            writer.close()
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections <= self.drop_first:
            writer.close()
            return
        if self.hold:
            self._held.append(writer)
            return
        up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()
