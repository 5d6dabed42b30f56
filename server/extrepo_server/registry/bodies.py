"""Reading a registry's answer up to a size, compressed or not.

A cap on the decoded body alone is not a bound: httpx decodes each network chunk
whole before handing it on, and 64 KiB of gzip can inflate to 64 MB in one step
(a "zip bomb" from a host a user named). So checks ask for `identity`, read the raw
bytes, and inflate gzip or deflate themselves (for servers that compress anyway)
never past the cap. Other encodings (br, zstd, compress, stacked ones) are refused:
nothing asked for them.
"""

from __future__ import annotations

import zlib

import httpx

ACCEPT_ENCODING = "identity"


class AnswerTooLarge(Exception):
    """The answer, decoded, is longer than the cap."""


class UnreadableEncoding(Exception):
    """The answer comes in a content encoding checks do not read (or corrupt)."""

    def __init__(self, encoding: str) -> None:
        super().__init__(encoding)
        self.encoding = encoding


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """`response`'s body, decoded, if it is at most `limit` bytes long."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflate = _inflater(encoding)
    body = bytearray()
    async for chunk in response.aiter_raw():
        if inflate is not None:
            chunk = inflate.feed(chunk, limit - len(body) + 1)
        body += chunk
        if len(body) > limit:
            raise AnswerTooLarge
    if inflate is not None:
        inflate.finish()
    return bytes(body)


def _inflater(encoding: str) -> _Inflater | None:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Inflater(encoding)
    raise UnreadableEncoding(encoding[:32])


class _Inflater:
    """zlib with `max_length`: each call gives at most what the cap still admits, and
    input it could not inflate within that means the cap is passed."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._deflate = encoding == "deflate"
        # gzip: gzip header; deflate: zlib header (RFC 9110), or raw deflate, which
        # some servers send under that name (as httpx's own decoder allows).
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | (16 if not self._deflate else 0))
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out = self._zlib.decompress(data, room)
        except zlib.error:
            if not (self._deflate and not self._started):
                raise UnreadableEncoding(self._encoding) from None
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            try:
                out = self._zlib.decompress(data, room)
            except zlib.error:
                raise UnreadableEncoding(self._encoding) from None
        self._started = True
        if self._zlib.unconsumed_tail:
            # Input left over once `room` bytes came out: the answer is longer.
            raise AnswerTooLarge
        return out

    def finish(self) -> None:
        if self._started and not self._zlib.eof:
            raise UnreadableEncoding(self._encoding)
