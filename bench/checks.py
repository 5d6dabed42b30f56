"""Do background credential checks slow the API down? Get and List throughput with the
re-check loop busy against a real registry, against the same server without it,
interleaved in one run (A B B A ...), each as a ratio to the empty RPC measured
right before it.

    .venv/bin/python bench/checks.py [--repositories 50] [--interval 5] [--rounds 3]

Both servers hold the same `--repositories` repositories on the reference registry
(harness/registries.py, htpasswd auth, TLS), registered through Create with checks
on. Server C re-checks each every `--interval` seconds (so about repositories /
interval checks a second: 50 / 5 s is what 216,000 repositories at the default 6 h
interval would cause); server N never re-checks. The registry runs on the same two
cores, so what C loses includes the registry's CPU: a ceiling on the real cost.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from run import EMPTY_PROTO, SERVICE, Bench, _basic  # noqa: E402

from harness.live_server import LiveServer  # noqa: E402
from harness.registries import TestCA, TestRegistry  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ghz", default=str(REPO / ".tools/bin/ghz"))
    parser.add_argument("--repositories", type=int, default=50)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=10000, help="calls per case")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="extrepo-bench-checks-") as tmp_name:
        tmp = Path(tmp_name)
        bench = Bench(args, tmp)
        ca = TestCA(tmp)
        with TestRegistry(tmp / "registry", ca, "basic") as registry:
            registry.add_user("puller", "pull-pass")
            common = {
                "EXTREPO_VERIFICATION": "record",
                "EXTREPO_REGISTRY_ALLOW": "127.0.0.0/8",
                "EXTREPO_REGISTRY_CA_FILE": str(ca.pem),
                "EXTREPO_CHECKS_PER_MINUTE": "100000",
            }
            sides = {
                "C": {**common, "EXTREPO_RECHECK_INTERVAL_SECONDS": str(args.interval)},
                "N": {**common, "EXTREPO_RECHECK_INTERVAL_SECONDS": "0"},
            }
            empty, empty_address = bench.start_empty_server()
            try:
                figures = run_rounds(args, bench, tmp, registry, sides, empty_address)
            finally:
                empty.terminate()
            checks = registry.log_text().count("/tags/list")
    report(args, figures, checks)


def run_rounds(args, bench, tmp, registry, sides, empty_address) -> dict[str, list[dict]]:
    """Each round runs each side's server alone (started, seeded, measured, stopped), so
    that C's checks never run while N is measured."""
    figures: dict[str, list[dict]] = {"C": [], "N": []}
    for round_number in range(args.rounds):
        order = ("C", "N") if round_number % 2 == 0 else ("N", "C")
        for side in order:
            print(f"round {round_number + 1}, {side}", flush=True)
            with LiveServer(tmp / f"{side}{round_number}", env=sides[side]) as server:
                figures[side].append(measure(args, bench, registry, server, empty_address))
                rechecked = server.log_text().count('"msg": "re-checked"')
            print(f"  {side}: {rechecked} background checks in this round", flush=True)
    return figures


def measure(args, bench, registry, server, empty_address) -> dict[str, float]:
    metadata = {"authorization": _basic("bench", server.create_user("bench"))}
    bench.ghz(
        "seed",
        server.address,
        f"{SERVICE}.Create",
        total=args.repositories,
        concurrency=4,
        metadata=metadata,
        quiet=True,
        data={
            "name": f"{registry.host}/team/app{{{{.RequestNumber}}}}",
            "username": "puller",
            "password": "pull-pass",
        },
    )
    # The first re-checks come one interval after the creates: measure from then on
    # (N waits as long, so that both sides are measured alike).
    time.sleep(args.interval)
    row = {}
    for case, call, data in (
        ("Get", "Get", {"name": f"{registry.host}/team/app0"}),
        ("List (25)", "List", {"limit": 25}),
    ):
        limit = bench.ghz(
            "empty RPC",
            empty_address,
            "bench.v1.EmptyService.Call",
            proto=EMPTY_PROTO,
            concurrency=args.concurrency,
        )
        measured = bench.ghz(
            f"{case}",
            server.address,
            f"{SERVICE}.{call}",
            concurrency=args.concurrency,
            metadata=metadata,
            data=data,
        )
        row[case] = measured["calls_per_second"] / limit["calls_per_second"]
    return row


def report(args, figures: dict[str, list[dict]], checks: int) -> None:
    print(
        f"\nGet and List at {args.concurrency} in flight, as ratios to the empty RPC; "
        f"C re-checks {args.repositories} repositories every {args.interval:g} s, N never"
    )
    for case in ("Get", "List (25)"):
        c = [row[case] for row in figures["C"]]
        n = [row[case] for row in figures["N"]]
        print(
            f"  {case:10} C {statistics.median(c):.3f} ({' '.join(f'{x:.3f}' for x in c)})  "
            f"N {statistics.median(n):.3f} ({' '.join(f'{x:.3f}' for x in n)})  "
            f"C/N {statistics.median(c) / statistics.median(n):.3f}"
        )
    print(f"  tags/list requests the registry served in all: {checks}")


if __name__ == "__main__":
    main()
