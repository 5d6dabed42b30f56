"""How a check reads answers. Compressed ones: it asks for none, reads gzip or deflate
from servers that compress anyway, never inflates past the answer cap (a small gzip of
zeros must not cost the server tens of MB), and refuses encodings nobody asked for.
Slow ones: one deadline for the whole check, however the time is spread."""

from __future__ import annotations

import gzip
import http.server
import json
import time
import tracemalloc
import zlib

import pytest
from extrepo_server.domain.ports import VerificationState
from extrepo_server.registry.client import MAX_ANSWER_BYTES

from harness.registries import HttpsServer, answer
from tests.registry.test_check import check
from tests.support.registries import PULLER

S = VerificationState
API = {"docker-distribution-api-version": "registry/2.0"}
TAGS = json.dumps({"name": "team/app", "tags": ["1.0"]}).encode()


def _registry(test_ca, tags_body: bytes, encoding: str) -> HttpsServer:
    """An open registry whose tags/list answer comes in `encoding`, asked or not."""

    def handle(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.path == "/v2/":
            answer(handler, 200, b"{}", API)
        else:
            headers = {**API, "content-type": "application/json", "content-encoding": encoding}
            answer(handler, 200, tags_body, headers)

    return HttpsServer(test_ca.server_context("encodings", "127.0.0.1"), handle)


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    "encoding, body",
    [
        ("gzip", gzip.compress(TAGS)),
        ("deflate", zlib.compress(TAGS)),
        ("deflate", _raw_deflate(TAGS)),
        ("identity", TAGS),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "identity"],
)
def test_a_registry_that_compresses_anyway_is_read(test_ca, encoding, body):
    server = _registry(test_ca, body, encoding)
    try:
        result = check(test_ca, server.host, "team/app", PULLER)
    finally:
        server.close()
    assert result.verification.state is S.VERIFIED, result.verification.reason
    asked = {
        v
        for _, _, sent in server.requests
        for k, v in sent.items()
        if k.lower() == "accept-encoding"
    }
    assert asked == {"identity"}


def test_a_compression_bomb_is_cut_at_the_cap_without_inflating_it(test_ca):
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024), compresslevel=9)  # ~40 KiB
    assert len(bomb) < MAX_ANSWER_BYTES
    server = _registry(test_ca, bomb, "gzip")
    tracemalloc.start()
    try:
        result = check(test_ca, server.host, "team/app", PULLER)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        server.close()
    assert result.verification.state is S.REGISTRY_ERROR
    assert "larger than 64 KiB" in result.verification.reason
    # httpx's own decoder would hold the whole 40 MB at once.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "compress"])
def test_an_encoding_nobody_asked_for_is_a_registry_error(test_ca, encoding):
    server = _registry(test_ca, TAGS, encoding)
    try:
        result = check(test_ca, server.host, "team/app", PULLER)
    finally:
        server.close()
    assert result.verification.state is S.REGISTRY_ERROR
    assert server.host in result.verification.reason
    assert "encoding" in result.verification.reason


def test_a_corrupt_gzip_answer_is_a_registry_error(test_ca):
    server = _registry(test_ca, gzip.compress(TAGS)[:-12], "gzip")
    try:
        result = check(test_ca, server.host, "team/app", PULLER)
    finally:
        server.close()
    assert result.verification.state is S.REGISTRY_ERROR
    assert "encoding" in result.verification.reason


def test_one_deadline_bounds_the_whole_check(test_ca):
    """Every step within the per-read timeout, the sum over it: a registry trickling
    its tags/list a byte at a time is cut at the check's total deadline."""

    def handle(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.path == "/v2/":
            time.sleep(0.3)
            answer(handler, 200, b"{}", API)
            return
        handler.send_response(200)
        for name, value in {**API, "content-length": str(len(TAGS))}.items():
            handler.send_header(name, value)
        handler.end_headers()
        try:
            for byte in TAGS:
                time.sleep(0.2)
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:
            pass  # the check hung up, as it should

    server = HttpsServer(test_ca.server_context("trickle", "127.0.0.1"), handle)
    try:
        started = time.monotonic()
        result = check(test_ca, server.host, "team/app", PULLER, timeout=1.0)
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert result.verification.state is S.REGISTRY_UNREACHABLE
    assert "within 1 s" in result.verification.reason
    assert 0.9 < elapsed < 2.0
