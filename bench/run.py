"""`make bench`: every figure of the benchmark, measured side by side in one run.

- the limit: an empty unary RPC on a grpc.aio server like extrepo's, no interceptor;
- extrepo Get, List (a page of 25), Create and Update over gRPC at 16 and 64 in flight;
- the same Create on PostgreSQL: a throwaway cluster from harness/postgres.py (fsync and
  synchronous_commit off, as for the tests; SQLite runs WAL with synchronous=NORMAL, which
  does not wait for the disk at each commit either) and a second extrepo server on it;
- REST Get and List through the real gateway, and the same on the FastAPI + SQLModel peer
  (bench/peer/app.py) over the same database file;
- List at 1k, 100k and 1M repositories in one namespace: first, middle and last page;
- the server's peak RSS with those 1.1M repositories stored.

gRPC load comes from ghz, HTTP load from hey (both Go programs, pinned in mk/bench.mk),
so that no Python load generator competes with the servers for the 2 cores. Writes the
figures to bench/results/latest.json; bench/peer/chart.py draws the PNG.

    make bench     (python bench/run.py --ghz G --hey H --peer-python bench/peer/.venv/bin/python)

A smoke run of a change to the Create cases, well under 2 minutes, without the gateway, the
peer or the 1.1M-row seeding, and without touching latest.json (it writes only-create.json):

    .venv/bin/python bench/run.py --only create --requests 2000
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

# ruff: noqa: S603 - runs ghz, hey and our own servers with arguments built here

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from extrepo_server.domain.paging import Cursor, Direction, encode_cursor  # noqa: E402
from extrepo_server.security.cursors import CursorSigner  # noqa: E402
from extrepo_server.storage.models import Account, RegistryCount, Repository  # noqa: E402

from harness.gateway import start_gateway  # noqa: E402
from harness.live_server import LiveServer  # noqa: E402
from harness.postgres import PostgresCluster  # noqa: E402

EXTREPO_PROTO = [
    "--proto=proto/extrepo/v1/repository_service.proto",
    "--import-paths=proto,third_party/proto",
]
EMPTY_PROTO = ["--proto=bench/proto/empty.proto"]
SERVICE = "extrepo.v1.RepositoryService"
GET_NAME = "bench.example.com/team/app"
SCALES = {"1k": 1_000, "100k": 100_000, "1M": 1_000_000}
LEVELS = (16, 64)  # calls in flight, for every throughput case


@dataclass(frozen=True)
class Empty:
    """The empty RPC's server (bench/empty_server.py)."""

    process: subprocess.Popen
    address: str

    @property
    def pid(self) -> int:
        return self.process.pid


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.results: list[dict] = []

    # -- load generators -------------------------------------------------------

    def ghz(
        self,
        label: str,
        target: str,
        call: str,
        *,
        data: dict | None = None,
        metadata: dict | None = None,
        proto: list[str] = EXTREPO_PROTO,
        concurrency: int = 16,
        total: int | None = None,
        quiet: bool = False,
        connections: int = 1,
        servers: Sequence[int] = (),
        database: int | None = None,
    ) -> dict:
        """One ghz run. `servers`: the pids of the server process(es) answering, whose
        CPU time per call is recorded; `database`: a PostgreSQL postmaster's pid, whose
        backends' CPU time per call is recorded too."""
        total = total or self.args.requests
        command = [
            self.args.ghz,
            "--insecure",
            "--format=json",
            f"--call={call}",
            f"--total={total}",
            f"--concurrency={concurrency}",
            f"--connections={connections}",
            f"--data={json.dumps(data or {})}",
            f"--metadata={json.dumps(metadata or {})}",
            *proto,
            target,
        ]
        before = [_cpu_seconds(pid) for pid in servers]
        backends_before = _backend_cpu(database) if database else {}
        report = json.loads(
            subprocess.run(command, capture_output=True, check=True, cwd=REPO).stdout
        )
        spent = [_cpu_seconds(pid) - b for pid, b in zip(servers, before, strict=True)]
        codes = report.get("statusCodeDistribution", {})
        if set(codes) - {"OK"}:
            raise SystemExit(f"{label}: calls failed: {codes}")
        latency = {d["percentage"]: d["latency"] / 1e6 for d in report["latencyDistribution"]}
        if quiet:  # set-up calls: checked, not reported
            return {}
        row = self._record(label, "ghz", concurrency, report["rps"], latency[50], latency[99])
        if connections != 1:
            row["connections"] = connections
        if servers:
            row["server_cpu_us_per_call"] = round(sum(spent) / total * 1e6, 1)
            if len(spent) > 1:  # how the calls spread over the replicas
                row["cpu_share"] = [round(s / (sum(spent) or 1), 3) for s in spent]
        if database:
            backends_after = _backend_cpu(database)
            db = sum(t - backends_before.get(pid, 0.0) for pid, t in backends_after.items())
            row["db_cpu_us_per_call"] = round(db / total * 1e6, 1)
        return self.show(row)

    def hey(self, label: str, url: str, authorization: str, *, concurrency: int = 16) -> dict:
        command = [
            self.args.hey,
            f"-n={self.args.requests // 2}",
            f"-c={concurrency}",
            "-H",
            f"Authorization: {authorization}",
            url,
        ]
        out = subprocess.run(command, capture_output=True, check=True, text=True).stdout
        statuses = re.findall(r"\[(\d+)\]\s+\d+ responses", out)
        if statuses != ["200"]:
            raise SystemExit(f"{label}: answers other than 200: {out[-800:]}")
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000
        p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1)) * 1000
        return self.show(self._record(label, "hey", concurrency, rps, p50, p99))

    def _record(self, label, tool, concurrency, rps, p50, p99) -> dict:
        row = {
            "case": label,
            "tool": tool,
            "concurrency": concurrency,
            "calls_per_second": round(rps, 1),
            "p50_ms": round(p50, 3),
            "p99_ms": round(p99, 3),
        }
        self.results.append(row)
        return row

    @staticmethod
    def show(row: dict) -> dict:
        """Print one measured case: throughput, latency, and the CPU per call of the
        server(s) (and of the database's backends) where measured."""
        line = (
            f"  {row['case']:44} c={row['concurrency']:<3} {row['calls_per_second']:8.0f}/s  "
            f"p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms"
        )
        if "server_cpu_us_per_call" in row:
            line += f"  server CPU {row['server_cpu_us_per_call']:6.0f} us/call"
        if "db_cpu_us_per_call" in row:
            line += f"  db CPU {row['db_cpu_us_per_call']:6.0f} us/call"
        if "cpu_share" in row:
            line += "  split " + "/".join(f"{s:.2f}" for s in row["cpu_share"])
        print(line, flush=True)
        return row

    # -- processes -------------------------------------------------------------

    def start_empty_server(self) -> Empty:
        port_file = self.tmp / "empty.port"
        process = subprocess.Popen(
            [sys.executable, str(REPO / "bench/empty_server.py"), "--port-file", str(port_file)]
        )
        while not port_file.exists():
            time.sleep(0.05)
        return Empty(process, f"127.0.0.1:{port_file.read_text()}")

    def start_peer(self, database_file: Path) -> tuple[subprocess.Popen, str]:
        port = _free_port()
        env = {**os.environ, "EXTREPO_PEER_DATABASE_URL": f"sqlite:///{database_file}"}
        process = subprocess.Popen(
            [
                os.path.abspath(self.args.peer_python),  # not resolve(): keep the venv
                "-m",
                "uvicorn",
                "app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=REPO / "bench/peer",
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return process, base
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the peer did not start")


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (not of its children)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _backend_cpu(postmaster: int) -> dict[int, float]:
    """CPU seconds so far of each child of a PostgreSQL postmaster (its backends and
    helpers). A backend that exits between two readings is missed; the servers keep
    theirs open for the whole case."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == postmaster:
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / _TICKS
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


def seed_get_and_list(bench: Bench, target: str, metadata: dict) -> None:
    """Through the API: the repository Get reads, and 30 more for List's page of 25
    (ghz numbers each call's name). Checked, not reported."""
    seed_calls = {"total": 1, "concurrency": 1, "metadata": metadata, "quiet": True}
    bench.ghz(
        "seed",
        target,
        f"{SERVICE}.Create",
        **seed_calls,
        data={"name": GET_NAME, "username": "u", "password": "p"},
    )
    bench.ghz(
        "seed",
        target,
        f"{SERVICE}.Create",
        **{**seed_calls, "total": 30},
        data={"name": "list.example.com/app{{.RequestNumber}}", "username": "u", "password": "p"},
    )


def create_case(
    bench: Bench,
    label: str,
    target: str,
    metadata: dict,
    concurrency: int,
    *,
    prefix: str = "create",
    **ghz: object,
) -> dict:
    """The Create case, shared by SQLite and PostgreSQL so that both run the same calls:
    each call names a new repository (ghz numbers the calls; one host per level and
    `prefix`, so that cases on one database do not collide)."""
    return bench.ghz(
        label,
        target,
        f"{SERVICE}.Create",
        concurrency=concurrency,
        metadata=metadata,
        data={
            "name": f"{prefix}{concurrency}.example.com/app{{{{.RequestNumber}}}}",
            "username": "u",
            "password": "p",
        },
        **ghz,
    )


def empty_case(bench: Bench, empty: Empty, concurrency: int, **ghz: object) -> dict:
    """The limit: the empty RPC, at this level (and connections, if given)."""
    return bench.ghz(
        "empty RPC (the limit)",
        empty.address,
        "bench.v1.EmptyService.Call",
        proto=EMPTY_PROTO,
        concurrency=concurrency,
        servers=[empty.pid],
        **ghz,
    )


def read_cases(
    bench: Bench, suffix: str, target: str, metadata: dict, concurrency: int, **ghz: object
) -> dict[str, dict]:
    """Get of one repository and List's first page of 25."""
    return {
        "get": bench.ghz(
            f"gRPC Get{suffix}",
            target,
            f"{SERVICE}.Get",
            concurrency=concurrency,
            metadata=metadata,
            data={"name": GET_NAME},
            **ghz,
        ),
        "list": bench.ghz(
            f"gRPC List (25){suffix}",
            target,
            f"{SERVICE}.List",
            concurrency=concurrency,
            metadata=metadata,
            data={"limit": 25},
            **ghz,
        ),
    }


def with_ratios(rows: dict[str, dict], limit: dict) -> dict[str, dict]:
    """Each row's calls/s as a ratio to `limit`, the empty RPC measured just before."""
    for row in rows.values():
        row["x_limit"] = round(row["calls_per_second"] / limit["calls_per_second"], 3)
    return rows


# Connections ghz opens to the two replicas: the kernel hands each new connection to
# one of the processes listening on the port (SO_REUSEPORT, by a hash of the
# addresses), so with few connections the split can be lopsided; with 8 both get
# calls but not always an even half (each row records the split, by CPU).
REPLICA_CONNECTIONS = 8


def postgres_cases(bench: Bench, tmp: Path, empty: Empty) -> dict[str, dict]:
    """Get, List and Create on PostgreSQL: one server, then two replicas of it on the
    same database and port, each case with the empty RPC measured right before it.

    The cluster is started here and stopped on the way out, failure or not: it runs
    as another user (as root) and would outlive this script; nor does it load the
    other cases' cores.
    """
    figures: dict[str, dict] = {f"c{c}": {} for c in LEVELS}
    with ExitStack() as cleanup:
        cluster = PostgresCluster()
        cleanup.callback(cluster.destroy)  # before start(): initdb may have made its directory
        cluster.start()
        postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
        url = cluster.create_database("bench")
        first = LiveServer(tmp / "server-pg", database_url=url)
        cleanup.callback(first.stop)  # before start(): a server that never answers still runs
        first.start()
        metadata = {"authorization": _basic("bench", first.create_user("bench"))}
        seed_get_and_list(bench, first.address, metadata)
        one = {"servers": [first.process.pid], "database": postmaster}
        for c in LEVELS:
            limit = empty_case(bench, empty, c)
            rows = read_cases(bench, " (PostgreSQL)", first.address, metadata, c, **one)
            rows["create"] = create_case(
                bench, "gRPC Create (PostgreSQL)", first.address, metadata, c, **one
            )
            with_ratios(rows, limit)
            figures[f"c{c}"].update({f"{k}_pg": v for k, v in rows.items()})
            figures[f"c{c}"]["limit_pg"] = limit

        # A second replica: same database, same key file, same port (grpc binds it
        # with SO_REUSEPORT on Linux, so the kernel shares connections between them).
        second = LiveServer(
            tmp / "server-pg-2",
            database_url=url,
            address=first.address,
            env={"EXTREPO_SECRET_KEY_FILE": str(first.data_dir / "secret.key")},
        )
        cleanup.callback(second.stop)
        second.start()
        two = {
            "servers": [first.process.pid, second.process.pid],
            "database": postmaster,
            "connections": REPLICA_CONNECTIONS,
        }
        for c in LEVELS:
            limit = empty_case(bench, empty, c, connections=REPLICA_CONNECTIONS)
            rows = read_cases(bench, " (PG, 2 replicas)", first.address, metadata, c, **two)
            rows["create"] = create_case(
                bench,
                "gRPC Create (PG, 2 replicas)",
                first.address,
                metadata,
                c,
                prefix="replicas",
                **two,
            )
            with_ratios(rows, limit)
            figures[f"c{c}"].update({f"{k}_pg2": v for k, v in rows.items()})
            figures[f"c{c}"]["limit_pg2"] = limit
    return figures


def seed(engine: sa.Engine, namespace_id: int, count: int, credentials: str) -> list[str]:
    """Insert `count` repositories straight into the tables (with their counters)."""
    names = sorted(f"reg{i % 10}.example.com/team{i // 1000:04d}/app{i:07d}" for i in range(count))
    now = datetime.now(UTC)
    table = Repository.__table__
    with engine.begin() as conn:
        for start in range(0, count, 50_000):
            conn.execute(
                table.insert(),
                [
                    {
                        "namespace_id": namespace_id,
                        "name": name,
                        "username_encrypted": credentials,
                        "password_encrypted": credentials,
                        "in_use": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for name in names[start : start + 50_000]
                ],
            )
        conn.execute(
            Account.__table__.update()
            .where(Account.__table__.c.id == namespace_id)
            .values(repository_count=count)
        )
        for host in sorted({n.split("/", 1)[0] for n in names}):
            conn.execute(
                RegistryCount.__table__.insert().values(
                    namespace_id=namespace_id,
                    host=host,
                    repository_count=sum(1 for n in names if n.startswith(host + "/")),
                )
            )
    return names


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def run_only(args: argparse.Namespace) -> dict:
    """`--only create`: the Create cases alone, on SQLite then PostgreSQL;
    `--only postgresql`: the PostgreSQL cases (one server, then two replicas)."""
    figures: dict = {f"c{c}": {} for c in LEVELS}
    with tempfile.TemporaryDirectory(prefix="extrepo-bench-") as tmp_name:
        tmp = Path(tmp_name)
        bench = Bench(args, tmp)
        with ExitStack() as cleanup:
            empty = bench.start_empty_server()
            cleanup.callback(empty.process.terminate)
            if args.only == "postgresql":
                print("gRPC (ghz) on PostgreSQL", flush=True)
                return postgres_cases(bench, tmp, empty)
            server = LiveServer(tmp / "server")
            cleanup.callback(server.stop)
            server.start()
            metadata = {"authorization": _basic("bench", server.create_user("bench"))}
            print("gRPC Create (ghz)", flush=True)
            for c in LEVELS:
                limit = empty_case(bench, empty, c)
                create = create_case(
                    bench,
                    "gRPC Create (SQLite)",
                    server.address,
                    metadata,
                    c,
                    servers=[server.process.pid],
                )
                figures[f"c{c}"].update(with_ratios({"create": create}, limit))
                figures[f"c{c}"]["limit"] = limit
            for level, rows in postgres_cases(bench, tmp, empty).items():
                figures[level].update(
                    {k: v for k, v in rows.items() if k in ("create_pg", "limit_pg")}
                )
    return figures


def run(args: argparse.Namespace) -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="extrepo-bench-") as tmp_name:
        tmp = Path(tmp_name)
        bench = Bench(args, tmp)
        with ExitStack() as cleanup:
            server = LiveServer(tmp / "server")
            cleanup.callback(server.stop)  # before start(): a server that never answers still runs
            server.start()
            gateway_url, stop_gateway = start_gateway(server.address)
            cleanup.callback(stop_gateway)
            empty = bench.start_empty_server()
            cleanup.callback(empty.process.terminate)
            database_file = server.data_dir / "extrepo.db"
            peer, peer_url = bench.start_peer(database_file)
            cleanup.callback(peer.terminate)
            key = server.create_user("bench")
            auth = _basic("bench", key)
            metadata = {"authorization": auth}
            target = server.address
            seed_get_and_list(bench, target, metadata)

            print("gRPC (ghz)", flush=True)
            on_sqlite = {"servers": [server.process.pid]}
            for c in LEVELS:
                limit = empty_case(bench, empty, c)
                rows = read_cases(bench, "", target, metadata, c, **on_sqlite)
                rows["create"] = create_case(
                    bench, "gRPC Create (SQLite)", target, metadata, c, **on_sqlite
                )
                rows["update"] = bench.ghz(
                    "gRPC Update",
                    target,
                    f"{SERVICE}.Update",
                    concurrency=c,
                    metadata=metadata,
                    data={"name": GET_NAME, "password": "p{{.RequestNumber}}"},
                    **on_sqlite,
                )
                figures[f"c{c}"] = {"limit": limit, **with_ratios(rows, limit)}
                limit["x_limit"] = 1.0

            print("gRPC (ghz) on PostgreSQL: one server, then two replicas", flush=True)
            for level, rows in postgres_cases(bench, tmp, empty).items():
                figures[level].update(rows)

            print(
                "REST (hey): extrepo through the gateway, and the FastAPI + SQLModel peer",
                flush=True,
            )
            for c in LEVELS:
                rest_get = bench.hey(
                    "REST Get via gateway",
                    f"{gateway_url}/api/repo/v1/repository/{GET_NAME}/",
                    auth,
                    concurrency=c,
                )
                rest_list = bench.hey(
                    "REST List (25) via gateway",
                    f"{gateway_url}/api/repo/v1/repository/?limit=25",
                    auth,
                    concurrency=c,
                )
                peer_get = bench.hey(
                    "peer Get (FastAPI+SQLModel)",
                    f"{peer_url}/api/repo/v1/repository/{GET_NAME}/",
                    auth,
                    concurrency=c,
                )
                peer_list = bench.hey(
                    "peer List (25) (FastAPI+SQLModel)",
                    f"{peer_url}/api/repo/v1/repository/?limit=25",
                    auth,
                    concurrency=c,
                )
                grpc_get = figures[f"c{c}"]["get"]["calls_per_second"]
                figures[f"c{c}"].update(
                    {
                        "rest_get": rest_get,
                        "rest_list": rest_list,
                        "peer_get": peer_get,
                        "peer_list": peer_list,
                    }
                )
                rest_get["x_grpc_get"] = round(rest_get["calls_per_second"] / grpc_get, 3)
                peer_get["x_grpc_get"] = round(peer_get["calls_per_second"] / grpc_get, 3)

            print("List at scale: following next to the first, middle and last page", flush=True)
            engine = sa.create_engine(f"sqlite:///{database_file}")
            token = server.admin_api.components.keyring.encrypt("seeded")
            # Cursors as the server signs them: under its keyring's keys.
            signer = CursorSigner(server.admin_api.components.keyring.keys)
            scale: dict = {}
            for label, count in SCALES.items():
                user = f"scale{label.lower()}"
                scale_key = server.create_user(user)
                namespace_id = server.admin_api.components.accounts.namespace_id(user)
                started = time.perf_counter()
                names = seed(engine, namespace_id, count, token)
                print(
                    f"  seeded {count} repositories in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
                scale_meta = {"authorization": _basic(user, scale_key)}
                pages = {"first": {"limit": 25}}
                for where, index in (("middle", count // 2), ("last", count - 25)):
                    cursor = Cursor(Direction.AFTER, names[index - 1], index, ("", ""))
                    pages[where] = {
                        "limit": 25,
                        "offset": index,
                        "cursor": encode_cursor(cursor, signer),
                    }
                for where, data in pages.items():
                    scale[f"{label} {where}"] = bench.ghz(
                        f"List {label} {where} page",
                        target,
                        f"{SERVICE}.List",
                        metadata=scale_meta,
                        data=data,
                        total=max(2000, args.requests // 10),
                    )
            engine.dispose()
            first_1k = scale["1k first"]["p50_ms"]
            for row in scale.values():
                row["x_first_1k_p50"] = round(row["p50_ms"] / first_1k, 3)
            figures["scale"] = scale
            figures["peak_rss_mb"] = round(peak_rss_mb(server.process.pid), 1)
            print(
                f"  server peak RSS with {sum(SCALES.values()) + 31} repositories stored: "
                f"{figures['peak_rss_mb']} MB",
                flush=True,
            )
    return figures


# The summary's rows: (figures key, label), in the order they were measured.
SUMMARY = (
    ("limit", "empty RPC (the limit)"),
    ("get", "Get (SQLite)"),
    ("list", "List 25 (SQLite)"),
    ("create", "Create (SQLite)"),
    ("update", "Update (SQLite)"),
    ("limit_pg", "empty RPC, before PostgreSQL"),
    ("get_pg", "Get (PostgreSQL)"),
    ("list_pg", "List 25 (PostgreSQL)"),
    ("create_pg", "Create (PostgreSQL)"),
    ("limit_pg2", f"empty RPC, {REPLICA_CONNECTIONS} connections"),
    ("get_pg2", "Get (PostgreSQL, 2 replicas)"),
    ("list_pg2", "List 25 (PostgreSQL, 2 replicas)"),
    ("create_pg2", "Create (PostgreSQL, 2 replicas)"),
)


def summary(figures: dict) -> None:
    """Each gRPC case's ratio to the empty RPC measured just before it, and its server
    CPU per call beside the empty RPC's (the steadier figure on a shared machine)."""
    print(
        f"\n  {'case':34} {'c':>3} {'calls/s':>8} {'x limit':>8} "
        f"{'server CPU us/call':>19} {'x empty':>8} {'db CPU us/call':>15}"
    )
    for level in LEVELS:
        rows = figures.get(f"c{level}", {})
        reference = None
        for key, label in SUMMARY:
            row = rows.get(key)
            if row is None:
                continue
            if key.startswith("limit"):
                reference = row
            cpu = row.get("server_cpu_us_per_call")
            empty_cpu = reference.get("server_cpu_us_per_call") if reference else None
            x_cpu = f"{cpu / empty_cpu:8.2f}" if cpu and empty_cpu else f"{'':8}"
            db = row.get("db_cpu_us_per_call")
            print(
                f"  {label:34} {level:>3} {row['calls_per_second']:8.0f} "
                f"{row.get('x_limit', 1.0):8.2f} {cpu or 0:19.0f} {x_cpu} "
                + (f"{db:15.0f}" if db is not None else ""),
            )
            if cpu and empty_cpu:
                row["x_empty_cpu"] = round(cpu / empty_cpu, 3)


def verdicts(figures: dict) -> list[tuple[str, float, float, bool]]:
    c16 = figures["c16"]
    scale = figures["scale"]
    checks = [
        ("Get / limit (c=16)", c16["get"]["x_limit"], 0.6),
        ("List / limit (c=16)", c16["list"]["x_limit"], 0.5),
        ("Create / limit (c=16)", c16["create"]["x_limit"], 0.6),
        ("Create on SQLite, calls/s (c=16)", c16["create"]["calls_per_second"], 1500),
        ("PostgreSQL Get / limit (c=16)", c16["get_pg"]["x_limit"], 0.6),
        ("PostgreSQL List / limit (c=16)", c16["list_pg"]["x_limit"], 0.4),
        ("PostgreSQL Create / limit (c=16)", c16["create_pg"]["x_limit"], 0.45),
        ("REST Get / gRPC Get (c=16)", c16["rest_get"]["x_grpc_get"], 0.7),
        (
            "gRPC Get / peer Get (c=16)",
            c16["get"]["calls_per_second"] / c16["peer_get"]["calls_per_second"],
            2.0,
        ),
    ]
    rows = [(name, value, target, value >= target) for name, value, target in checks]
    last = scale["1M last"]["x_first_1k_p50"]
    rows.append(("last page at 1M / first page at 1k (p50)", last, 1.5, last <= 1.5))
    p99 = c16["get"]["p99_ms"]
    rows.append(("Get p99 ms (c=16)", p99, 15, p99 <= 15))
    rss = figures["peak_rss_mb"]
    rows.append(("peak RSS MB with 1M repositories", rss, 150, rss <= 150))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ghz", default=str(REPO / ".tools/bin/ghz"))
    parser.add_argument("--hey", default=str(REPO / ".tools/bin/hey"))
    parser.add_argument("--peer-python", default=str(REPO / "bench/peer/.venv/bin/python"))
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument(
        "--only",
        choices=["create", "postgresql"],
        help="run only these cases (a smoke run; no targets, not written to latest.json)",
    )
    parser.add_argument("--out", type=Path, help="default bench/results/latest.json")
    args = parser.parse_args()
    if args.out is None:
        name = f"only-{args.only}.json" if args.only else "latest.json"
        args.out = REPO / "bench/results" / name
    # A SIGTERM (a timeout, a kill) unwinds like an error, so that the servers and the
    # PostgreSQL cluster are stopped rather than left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    if args.only:
        figures, rows = run_only(args), []
        summary(figures)
    else:
        figures = run(args)
        summary(figures)
        rows = verdicts(figures)
        print("\ntargets")
        for name, value, target, ok in rows:
            print(f"  {name:44} {value:10.2f}  target {target:>7}  {'met' if ok else 'SHORT'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu": _cpu_model(),
        },
        "requests_per_run": args.requests,
        "only": args.only,
        "figures": figures,
        "targets": [
            {"name": n, "value": round(v, 3), "target": t, "met": ok} for n, v, t, ok in rows
        ],
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nfigures written to {args.out}")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
