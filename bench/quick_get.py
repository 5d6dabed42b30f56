"""Get against the limit, in one run: calls/s and latency of extrepo's Get beside an
empty RPC on the same kind of server (and on the thread-pool server, to compare the
two concurrency models), all driven by ghz.

    python bench/quick_get.py --ghz .tools/bin/ghz [--requests 30000] [--concurrency 16]

Prints a table and the ratio of each to the aio empty RPC. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# ruff: noqa: S603 - runs ghz and our own servers with arguments built here

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.live_server import LiveServer  # noqa: E402

NAME = "bench.example.com/team/app"


def _start_empty(tmp: Path, threads: int) -> tuple[subprocess.Popen, int]:
    port_file = tmp / f"empty-{threads}.port"
    args = [sys.executable, str(REPO / "bench/empty_server.py"), "--port-file", str(port_file)]
    if threads:
        args += ["--threads", str(threads)]
    process = subprocess.Popen(args)
    while not port_file.exists():
        time.sleep(0.05)
    return process, int(port_file.read_text())


def _ghz(
    ghz: str,
    target: str,
    call: str,
    proto: list[str],
    data: dict,
    metadata: dict,
    requests: int,
    concurrency: int,
) -> dict:
    command = [
        ghz,
        "--insecure",
        "--format=json",
        f"--call={call}",
        f"--total={requests}",
        f"--concurrency={concurrency}",
        f"--data={json.dumps(data)}",
        f"--metadata={json.dumps(metadata)}",
        *proto,
        target,
    ]
    report = json.loads(subprocess.run(command, capture_output=True, check=True, cwd=REPO).stdout)
    errors = {k: v for k, v in report.get("statusCodeDistribution", {}).items() if k != "OK"}
    if errors:
        raise SystemExit(f"{call}: calls failed: {errors}")
    latency = {d["percentage"]: d["latency"] / 1e6 for d in report["latencyDistribution"]}
    return {"rps": report["rps"], "p50_ms": latency[50], "p99_ms": latency[99]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ghz", default=str(REPO / ".tools/bin/ghz"))
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    empty_proto = ["--proto=bench/proto/empty.proto"]
    extrepo_proto = [
        "--proto=proto/extrepo/v1/repository_service.proto",
        "--import-paths=proto,third_party/proto",
    ]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = LiveServer(tmp / "server").start()
        key = server.create_user("bench")
        auth = {"authorization": "Basic " + base64.b64encode(f"bench:{key}".encode()).decode()}
        subprocess.run(
            [
                args.ghz,
                "--insecure",
                "--total=1",
                "--concurrency=1",
                "--call=extrepo.v1.RepositoryService.Create",
                f"--data={json.dumps({'name': NAME, 'username': 'u', 'password': 'p'})}",
                f"--metadata={json.dumps(auth)}",
                *extrepo_proto,
                server.address,
            ],
            check=True,
            capture_output=True,
            cwd=REPO,
        )
        empty_aio, aio_port = _start_empty(tmp, 0)
        empty_threads, threads_port = _start_empty(tmp, 16)
        cases = [
            (
                "empty RPC, grpc.aio (the limit)",
                f"127.0.0.1:{aio_port}",
                "bench.v1.EmptyService.Call",
                empty_proto,
                {},
                {},
            ),
            (
                "empty RPC, thread-pool server",
                f"127.0.0.1:{threads_port}",
                "bench.v1.EmptyService.Call",
                empty_proto,
                {},
                {},
            ),
            (
                "extrepo Get",
                server.address,
                "extrepo.v1.RepositoryService.Get",
                extrepo_proto,
                {"name": NAME},
                auth,
            ),
        ]
        results: dict[str, list[dict]] = {label: [] for label, *_ in cases}
        try:
            for _ in range(args.rounds):  # interleaved, so drift hits every case alike
                for label, target, call, proto, data, metadata in cases:
                    results[label].append(
                        _ghz(
                            args.ghz,
                            target,
                            call,
                            proto,
                            data,
                            metadata,
                            args.requests,
                            args.concurrency,
                        )
                    )
        finally:
            empty_aio.terminate()
            empty_threads.terminate()
            server.stop()

    median = {
        label: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
        for label, runs in results.items()
    }
    limit = median[cases[0][0]]["rps"]
    print(
        f"ghz, {args.requests} calls at {args.concurrency} in flight, "
        f"median of {args.rounds} interleaved rounds"
    )
    print(f"{'case':34} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x limit':>8}")
    for label, figures in median.items():
        print(
            f"{label:34} {figures['rps']:9.0f} {figures['p50_ms']:8.2f} "
            f"{figures['p99_ms']:8.2f} {figures['rps'] / limit:8.2f}"
        )


if __name__ == "__main__":
    main()
