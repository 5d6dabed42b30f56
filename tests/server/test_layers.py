"""The server's packages depend one way: the domain owns its ports and imports no
other package of ours (nor a database, RPC or HTTP library); storage, security and
registry implement the ports; transport adapts gRPC to the domain; only the top
modules (app, cli, admin, config) know them all. Read from the source with ast."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import extrepo_server

ROOT = Path(extrepo_server.__file__).parent
PACKAGES = ("domain", "storage", "security", "registry", "transport", "observability")

# What each package may import of ours. Anything not listed is refused.
ALLOWED = {
    "domain": set(),
    # observability (metrics) is a leaf every adapter may record into.
    "storage": {"domain", "observability"},
    "security": {"domain", "observability"},
    "registry": {"domain", "observability"},
    "transport": {"domain", "security", "observability"},
    "observability": set(),
}
# Third-party libraries that belong to one side of a port, never to the domain.
DOMAIN_FORBIDDEN_LIBRARIES = {"sqlalchemy", "sqlmodel", "psycopg", "grpc", "httpx", "cryptography"}


def _package_of(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0] if len(relative.parts) > 1 else f"{relative.stem} (top)"


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(our packages or top modules imported, third-party top-level names imported)."""
    ours, libraries = set(), set()
    depth = len(path.relative_to(ROOT).parts) - 1  # 0 for a top module
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb to the package root
                if node.level > depth:  # e.g. `from ..x` in domain/ names x at the top
                    target = (node.module or "").split(".")[0]
                    names = [target] if target else [a.name for a in node.names]
                    ours.update(names)
            elif node.module:
                top = node.module.split(".")[0]
                (ours if top == "extrepo_server" else libraries).add(top)
        elif isinstance(node, ast.Import):
            libraries.update(a.name.split(".")[0] for a in node.names)
    return ours, libraries


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    edges: dict[str, set[str]] = defaultdict(set)
    libraries: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        package = _package_of(path)
        ours, libs = _imports(path)
        edges[package] |= {t for t in ours if t in PACKAGES and t != package}
        edges[package] |= {f"{t} (top)" for t in ours if t not in PACKAGES and t != package}
        libraries[package] |= libs
    return edges, libraries


def test_each_package_imports_only_what_it_may():
    edges, _ = graph()
    for package, allowed in ALLOWED.items():
        assert edges[package] <= allowed, f"{package} imports {edges[package] - allowed}"


def test_the_domain_uses_no_database_rpc_or_http_library():
    _, libraries = graph()
    assert not libraries["domain"] & DOMAIN_FORBIDDEN_LIBRARIES


def test_no_package_cycle():
    edges, _ = graph()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cyclic = [p for p in edges if reaches(p, p, {p})]
    assert not cyclic, f"import cycles through {sorted(cyclic)}"


if __name__ == "__main__":  # print the graph: python -m tests.server.test_layers
    for package, targets in sorted(graph()[0].items()):
        print(f"{package:18} -> {', '.join(sorted(targets)) or '-'}")
