"""Draw bench/results/latest.json as a PNG: throughput per case, and List latency at scale.

bench/peer/.venv/bin/python bench/peer/chart.py bench/results/latest.json out.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

CASES = [
    ("limit", "empty RPC\n(limit)"),
    ("get", "gRPC\nGet"),
    ("list", "gRPC\nList"),
    ("create", "gRPC Create\n(SQLite)"),
    ("create_pg", "gRPC Create\n(PostgreSQL)"),
    ("update", "gRPC\nUpdate"),
    ("rest_get", "REST\nGet"),
    ("rest_list", "REST\nList"),
    ("peer_get", "peer\nGet"),
    ("peer_list", "peer\nList"),
]


def main(source: str, target: str) -> None:
    report = json.loads(Path(source).read_text())
    figures = report["figures"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5), width_ratios=[3, 2])

    # Only the cases measured: a `--only` run, or a report older than a case.
    cases = [(key, label) for key, label in CASES if key in figures["c16"]]
    width = 0.4
    for shift, level in ((-width / 2, "c16"), (width / 2, "c64")):
        values = [figures[level][key]["calls_per_second"] for key, _ in cases]
        left.bar(
            [i + shift for i in range(len(cases))],
            values,
            width,
            label=level.replace("c", "in flight: "),
        )
    left.set_xticks(range(len(cases)), [label for _, label in cases], fontsize=8)
    left.set_ylabel("calls per second")
    left.set_title("Throughput (ghz for gRPC, hey for REST)")
    left.legend()

    scale = figures.get("scale", {})
    labels = list(scale)
    right.bar(range(len(labels)), [scale[k]["p50_ms"] for k in labels], label="p50")
    right.plot(
        range(len(labels)), [scale[k]["p99_ms"] for k in labels], "o", color="black", label="p99"
    )
    right.set_xticks(range(len(labels)), [k.replace(" ", "\n") for k in labels], fontsize=8)
    right.set_ylabel("ms")
    right.set_title("List page latency by namespace size and position (c=16)")
    right.legend()

    machine = report["machine"]
    fig.suptitle(f"extrepo benchmark, {report['when']}, {machine['cpus']} cores, {machine['cpu']}")
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
