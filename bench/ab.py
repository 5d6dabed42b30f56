"""Same-run A/B of the server at two git revisions: is a change faster or slower?

The machines are shared and noisy (±10% between runs), so two `make bench` runs at
different times cannot tell a 5% change. This runs both servers in one sitting,
interleaved (A B B A A B ...), each round on a fresh data directory, with the same
ghz calls as `make bench` (Get, List of 25, Create, Update at 16 in flight), and
prints each case's throughput as B/A, round by round and as the median.

    make bench-ab BASE=<rev>      (python bench/ab.py --base REV --ghz G)

The server of revision BASE runs from a git worktree through PYTHONPATH (the
editable install points at this tree; PYTHONPATH comes first); the generated
Python client of this tree serves both, so BASE must have the same proto. The
schema must be one both revisions accept (accounts are made with this tree's admin
code). Nothing is written to bench/results.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from run import GET_NAME, SERVICE, Bench, _basic, create_case, seed_get_and_list  # noqa: E402

from harness.live_server import LiveServer  # noqa: E402
from harness.postgres import PostgresCluster  # noqa: E402

# ruff: noqa: S603, S607 - runs git and our own servers with arguments built here

CASES = ("Get", "List (25)", "Create", "Update")


def measure(
    bench: Bench, server: LiveServer, concurrency: int, cases: tuple[str, ...] = CASES
) -> dict[str, dict]:
    """Each case's row: calls per second and the server's CPU per call."""
    metadata = {"authorization": _basic("bench", server.create_user("bench"))}
    target = server.address
    seed_get_and_list(bench, target, metadata)
    common = {"concurrency": concurrency, "metadata": metadata, "servers": [server.process.pid]}
    runs = {
        "Get": lambda: bench.ghz(
            "Get", target, f"{SERVICE}.Get", data={"name": GET_NAME}, **common
        ),
        "List (25)": lambda: bench.ghz(
            "List (25)", target, f"{SERVICE}.List", data={"limit": 25}, **common
        ),
        "Create": lambda: create_case(
            bench, "Create", target, metadata, concurrency, servers=common["servers"]
        ),
        "Update": lambda: bench.ghz(
            "Update",
            target,
            f"{SERVICE}.Update",
            data={"name": GET_NAME, "password": "p{{.RequestNumber}}"},
            **common,
        ),
    }
    return {case: runs[case]() for case in cases}


def _package_dir(env: dict[str, str]) -> str:
    """Where a server started with `env` imports extrepo_server from."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import extrepo_server, os; print(os.path.dirname(extrepo_server.__file__))",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the revision to compare against (A)")
    parser.add_argument("--ghz", default=str(REPO / ".tools/bin/ghz"))
    parser.add_argument("--rounds", type=int, default=3, help="rounds of A and B each")
    parser.add_argument("--requests", type=int, default=15000, help="calls per case")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="postgresql: both sides on one throwaway cluster, a fresh database per run",
    )
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated, among: {', '.join(CASES)} (fewer cases: more rounds in the time)",
    )
    args = parser.parse_args()
    cases = tuple(c.strip() for c in args.cases.split(","))
    if not set(cases) <= set(CASES):
        raise SystemExit(f"--cases: choose among {', '.join(CASES)}")

    with tempfile.TemporaryDirectory(prefix="extrepo-ab-") as tmp_name:
        tmp = Path(tmp_name)
        worktree = tmp / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(worktree), args.base],
            cwd=REPO,
            check=True,
        )
        cluster = None
        try:
            if args.database == "postgresql":
                cluster = PostgresCluster()
                cluster.start()
            bench = Bench(args, tmp)
            sides = {"A": {"PYTHONPATH": str(worktree / "server")}, "B": {}}
            for side, env in sides.items():  # each side really runs its own tree
                print(f"{side}: extrepo_server from {_package_dir(env)}", flush=True)
            if _package_dir(sides["A"]) == _package_dir(sides["B"]):
                raise SystemExit("A and B would run the same server code")
            figures: dict[str, list[dict[str, dict]]] = {"A": [], "B": []}
            for round_number in range(args.rounds):
                order = ("A", "B") if round_number % 2 == 0 else ("B", "A")
                for side in order:
                    print(f"round {round_number + 1}, {side}", flush=True)
                    url = None
                    if cluster is not None:
                        url = cluster.create_database(f"ab_{side.lower()}{round_number}")
                    server = LiveServer(
                        tmp / f"{side}{round_number}", database_url=url, env=sides[side]
                    )
                    with server:
                        figures[side].append(measure(bench, server, args.concurrency, cases))
        finally:
            if cluster is not None:
                cluster.destroy()
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, check=False
            )

    for figure, title in (
        ("calls_per_second", "calls per second"),
        ("server_cpu_us_per_call", "server CPU per call (lower is better)"),
    ):
        print(
            f"\nB (this tree) / A ({args.base}) on {args.database}, "
            f"{title} at {args.concurrency} in flight:"
        )
        print(f"  {'case':12} {'rounds':30} median")
        for case in cases:
            ratios = [
                b[case][figure] / a[case][figure]
                for a, b in zip(figures["A"], figures["B"], strict=True)
            ]
            shown = " ".join(f"{r:.3f}" for r in ratios)
            print(f"  {case:12} {shown:30} {statistics.median(ratios):.3f}")
        for side in ("A", "B"):
            means = {
                case: statistics.mean(f[case][figure] for f in figures[side]) for case in cases
            }
            print(f"  {side} mean: " + ", ".join(f"{c} {v:.0f}" for c, v in means.items()))


if __name__ == "__main__":
    main()
