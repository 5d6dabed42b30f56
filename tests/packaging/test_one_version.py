"""One version for every package: the repository's VERSION file.

npm, Maven and Go read a package's version only from its own manifest or
source, so each carries a copy; this test fails, naming the file, when a copy
differs from VERSION. To release another version: change VERSION, run this
test, and set the version it names in each file it lists.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.gateway import build_gateway

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text().strip()
POM = "{http://maven.apache.org/POM/4.0.0}"


def _json(path: str) -> dict:
    return json.loads((ROOT / path).read_text())


def _pom(path: str) -> ET.Element:
    return ET.parse(ROOT / path).getroot()  # noqa: S314 (this repository's own file)


def _pom_version(path: str) -> str | None:
    return _pom(path).findtext(f"{POM}version")


def _pom_dependency_version(path: str, artifact: str) -> str | None:
    for dep in _pom(path).iter(f"{POM}dependency"):
        if dep.findtext(f"{POM}artifactId") == artifact:
            return dep.findtext(f"{POM}version")
    return None


def _go_const(path: str) -> str | None:
    match = re.search(r'^const Version = "([^"]*)"$', (ROOT / path).read_text(), re.M)
    return match and match.group(1)


def test_version_file_is_semver() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), f"VERSION {VERSION!r} is not X.Y.Z"


# (file, what it says) for every copy of the version.
COPIES = {
    "clients/typescript/package.json": lambda: _json("clients/typescript/package.json")["version"],
    "clients/typescript/package-lock.json": lambda: _json("clients/typescript/package-lock.json")[
        "version"
    ],
    "clients/typescript/package-lock.json (packages[''])": lambda: _json(
        "clients/typescript/package-lock.json"
    )["packages"][""]["version"],
    "clients/java/pom.xml": lambda: _pom_version("clients/java/pom.xml"),
    "clients/java/examples/quickstart/pom.xml": lambda: _pom_dependency_version(
        "clients/java/examples/quickstart/pom.xml", "extrepo-client"
    ),
    "clients/go/version.go": lambda: _go_const("clients/go/version.go"),
}


@pytest.mark.parametrize("where", sorted(COPIES))
def test_manifest_carries_the_version(where: str) -> None:
    assert COPIES[where]() == VERSION, f"VERSION says {VERSION}: set it in {where}"


@pytest.mark.parametrize(
    ("readme", "needles"),
    [
        ("clients/go/README.md", [f"clients/go/v{VERSION}", f"clients/go@v{VERSION}"]),
        ("clients/java/README.md", [f"<version>{VERSION}</version>"]),
    ],
)
def test_readme_names_the_version(readme: str, needles: list[str]) -> None:
    text = (ROOT / readme).read_text()
    for needle in needles:
        assert needle in text, f"VERSION says {VERSION}: {readme} should show {needle!r}"


def test_server_version() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("extrepo-server")), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == f"extrepo-server {VERSION}"


def test_gateway_version() -> None:
    out = subprocess.run(
        [str(build_gateway()), "-version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"extrepo-gateway {VERSION}"
