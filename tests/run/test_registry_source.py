"""`--registry URL --plugin NAME@RANGE`: the registry client resolves, fetches and verifies; the host
serves what it fetched (skipped while registry_static.client is not part of the tree)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extism_platform.host.sources import from_registry, parse_spec
from tests.conftest import run_cli


def test_parse_spec() -> None:
    assert parse_spec("@acme/weather@^1.2") == ("@acme/weather", "^1.2")
    assert parse_spec("@acme/weather") == ("@acme/weather", "*")
    assert parse_spec("units@~0.3") == ("units", "~0.3")


def test_registry_source(built: dict, tmp_path: Path) -> None:
    repository = pytest.importorskip("registry_static.repository")
    repo = repository.Repository.init(tmp_path / "registry", tmp_path / "keys", name="demo", fsync=False)
    repo.add_scope("@examples", [(built["pub"].read_text(), "demo")])
    repo.publish(sorted(built["dist"].glob("*.wasm")))
    url = (tmp_path / "registry").as_uri()
    (art,) = from_registry(url, ["@examples/weather@^1"], cache_dir=tmp_path / "cache")
    assert (art.info.name, art.info.version, art.signed) == ("@examples/weather", "1.0.0", True)
    r = run_cli(
        "-m",
        "extism_platform.cli.mcp_server",
        "--registry",
        url,
        "--plugin",
        "@examples/probe@0.1",
        "--list",
        "--json",
        "--no-audit",
        env={"EXTISM_PLATFORM_CACHE": str(tmp_path / "cache")},
    )
    assert r.returncode == 0, r.stderr
    assert "examples_probe-echo" in {t["name"] for t in json.loads(r.stdout)["tools"]}
