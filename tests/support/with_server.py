"""Run a command against a live extrepo server: the harness for other languages' tests.

    python -m tests.support.with_server -- go test ./...

starts a server on a free port with a fresh data directory, creates a user with an
API key, runs the command with EXTREPO_ADDRESS, EXTREPO_USERNAME and EXTREPO_API_KEY
set, stops the server, and exits with the command's exit code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.live_server import LiveServer

USERNAME = "client-test"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: python -m tests.support.with_server -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="extrepo-") as tmp:
        server = LiveServer(Path(tmp))
        with server:
            api_key = server.create_user(USERNAME)
            env = {
                **os.environ,
                "EXTREPO_ADDRESS": server.address,
                "EXTREPO_USERNAME": USERNAME,
                "EXTREPO_API_KEY": api_key,
            }
            print(f"with_server: extrepo on {server.address}, user {USERNAME}", file=sys.stderr)
            code = subprocess.call(argv, env=env)
        if code != 0:
            print(f"with_server: command failed ({code}); server log:", file=sys.stderr)
            print(server.log_text()[-4000:], file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
