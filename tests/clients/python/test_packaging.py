"""The Python packages' manifests: one version, one license, the client pinned."""

from __future__ import annotations

import tomllib
from pathlib import Path

import extrepo

ROOT = Path(__file__).resolve().parents[3]


def manifest(path: str) -> dict:
    return tomllib.loads((ROOT / path).read_text())


def test_one_version_for_the_client_and_the_servers_pin_of_it():
    version = (ROOT / "VERSION").read_text().strip()
    client = manifest("clients/python/pyproject.toml")
    assert client["project"]["dynamic"] == ["version"]
    assert client["tool"]["hatch"]["version"]["path"] == "../../VERSION"
    assert extrepo.__version__ == version
    # The server depends on exactly this repository's client, never on whatever an
    # index might serve under that name.
    assert f"extrepo-client=={version}" in manifest("pyproject.toml")["project"]["dependencies"]


def test_apache_license_at_the_top_and_in_the_client_package():
    top = (ROOT / "LICENSE").read_text()
    assert "Apache License" in top and "Version 2.0, January 2004" in top
    assert (ROOT / "clients/python/LICENSE").read_text() == top, "the package's copy is stale"
    project = manifest("clients/python/pyproject.toml")["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]


def test_the_client_pins_every_dependency_and_says_which_pythons():
    project = manifest("clients/python/pyproject.toml")["project"]
    assert all("==" in d for d in project["dependencies"]), project["dependencies"]
    assert project["requires-python"] == ">=3.10"
    assert project["scripts"] == {"extrepo": "extrepo.cli:main"}
    assert {"Homepage", "Source", "Issues"} <= project["urls"].keys()
    assert project["readme"] == "README.md"
