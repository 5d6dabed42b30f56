"""The batched log handler: lines below WARNING may wait for the flush interval,
never longer; WARNING and above, and everything at close, are written at once."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from extrepo_server.logs import BatchedStreamHandler, JsonFormatter


def _record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("extrepo.test", level, __file__, 1, message, None, None)


def _handler(path: Path, flush_seconds: float) -> tuple[BatchedStreamHandler, object]:
    file = path.open("w")
    handler = BatchedStreamHandler(file.fileno(), flush_seconds)
    handler.setFormatter(JsonFormatter())
    return handler, file


def test_lines_below_warning_wait_for_a_warning_or_close(tmp_path):
    log = tmp_path / "log"
    handler, file = _handler(log, flush_seconds=600)
    try:
        handler.handle(_record(logging.INFO, "first"))
        assert log.read_text() == ""  # batched: not written yet
        handler.handle(_record(logging.WARNING, "second"))
        lines = log.read_text().splitlines()
        assert ['"msg": "first"' in lines[0], '"msg": "second"' in lines[1]] == [True, True]
        handler.handle(_record(logging.INFO, "third"))
    finally:
        handler.close()
        file.close()
    assert '"msg": "third"' in log.read_text().splitlines()[2]


def test_lines_are_written_within_the_flush_interval(tmp_path):
    log = tmp_path / "log"
    handler, file = _handler(log, flush_seconds=0.05)
    try:
        handler.handle(_record(logging.INFO, "call"))
        deadline = time.monotonic() + 5
        while '"msg": "call"' not in log.read_text():
            assert time.monotonic() < deadline, "the line was never flushed"
            time.sleep(0.01)
    finally:
        handler.close()
        file.close()
