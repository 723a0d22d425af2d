"""Fixtures of the registry tests: real signed C plugins (built once per session), a published registry
template copied per test, and helpers to serve it on 127.0.0.1."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hatch_extism.build import Artifacts, build_artifacts
from plugin_format import signing
from plugin_format.manifest import load_manifest
from registry_static.repository import Repository

PLUGIN_C = """#include "extism-pdk.h"
EXTISM_EXPORT("greet") int32_t greet(void) {
    uint64_t n; uint8_t *in = extism_input(&n);
    extism_output(in, n); return 0;
}
"""


@dataclass(frozen=True)
class Authors:
    dir: Path
    alice: Path  # may publish into @acme and unscoped
    bob: Path  # may publish into @beta
    mallory: Path  # allowed nowhere

    def pub(self, who: str) -> Path:
        return getattr(self, who).with_name(getattr(self, who).name + ".pub")

    def private(self, who: str) -> Any:
        return signing.load_private_key(getattr(self, who))


def build_plugin(root: Path, name: str, version: str, key_path: Path | None, **fields: Any) -> Artifacts:
    """A real plugin project (plugin.yaml + C source + README) built into signed artifacts."""
    proj = root / f"{name.strip('@').replace('/', '-')}-{version}"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "plugin.c").write_text(PLUGIN_C)
    doc = {
        "name": name,
        "version": version,
        "language": "c",
        "license": "MIT",
        "source": "src",
        "description": fields.pop("description", f"The {name} plugin"),
        "exports": [
            {
                "name": "greet",
                "description": "Echo the input",
                "input_schema": {"type": "object", "properties": {"name": {"type": "string"}}},
            }
        ],
        **fields,
    }
    (proj / "plugin.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (proj / "README.md").write_text(
        f"# {name}\n\nA **test** plugin, version {version}.\n\n"
        "| col | val |\n|---|---|\n| a | 1 |\n\n<script>alert(1)</script>\n"
    )
    key = signing.load_private_key(key_path) if key_path else None
    return build_artifacts(load_manifest(proj), proj / "dist", key=key)


@pytest.fixture(scope="session")
def authors(tmp_path_factory: pytest.TempPathFactory) -> Authors:
    d = tmp_path_factory.mktemp("authors")
    for who in ("alice", "bob", "mallory"):
        signing.generate_keypair(d / f"{who}.pem")
    return Authors(d, d / "alice.pem", d / "bob.pem", d / "mallory.pem")


WEATHER = {
    "tags": ["weather", "http"],
    "permissions": {"hosts": ["api.weather.example"], "config": ["api_key"]},
    "dependencies": {"@acme/units": "^0.3"},
}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, authors: Authors) -> dict[str, Artifacts]:
    """Every artifact the tests publish (or try to), keyed by `name@version` (plus a few bad ones)."""
    root = tmp_path_factory.mktemp("plugins")
    specs: list[tuple[str, str, str, Path | None, dict[str, Any]]] = [
        ("@acme/weather@1.0.0", "@acme/weather", "1.0.0", authors.alice, WEATHER),
        ("@acme/weather@1.1.0", "@acme/weather", "1.1.0", authors.alice, WEATHER),
        (
            "@acme/weather@1.2.0",
            "@acme/weather",
            "1.2.0",
            authors.alice,
            {**WEATHER, "description": "Current weather for a city"},
        ),
        ("@acme/weather@2.0.0-rc.1", "@acme/weather", "2.0.0-rc.1", authors.alice, WEATHER),
        ("@acme/units@0.3.1", "@acme/units", "0.3.1", authors.alice, {"tags": ["math"]}),
        (
            "@beta/tool@1.0.0",
            "@beta/tool",
            "1.0.0",
            authors.bob,
            {"tags": ["files"], "permissions": {"paths": {"/data": "/data"}}},
        ),
        ("greeter@0.1.0", "greeter", "0.1.0", authors.alice, {"tags": ["demo"]}),
        ("unsigned", "@acme/unsigned", "1.0.0", None, {}),
        ("mallory", "@acme/evil", "1.0.0", authors.mallory, {}),
        ("@acme/weather@1.3.0", "@acme/weather", "1.3.0", authors.alice, WEATHER),  # published by tests
        ("@acme/weather@1.4.0", "@acme/weather", "1.4.0", authors.alice, WEATHER),  # published by tests
    ]
    return {key: build_plugin(root, name, ver, k, **fields) for key, name, ver, k, fields in specs}


PUBLISHED = [
    "@acme/units@0.3.1",
    "@acme/weather@1.0.0",
    "@acme/weather@1.1.0",
    "@acme/weather@1.2.0",
    "@acme/weather@2.0.0-rc.1",
    "@beta/tool@1.0.0",
    "greeter@0.1.0",
]


@dataclass(frozen=True)
class Reg:
    dir: Path
    keys: Path

    def repo(self) -> Repository:
        return Repository(self.dir, self.keys)


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory, authors: Authors, built: dict[str, Artifacts]) -> Reg:
    base = tmp_path_factory.mktemp("registry-template")
    repo = Repository.init(base / "registry", base / "keys", name="Test plugins")
    repo.add_scope("@acme", [(authors.pub("alice").read_text(), "alice")])
    repo.add_scope("beta", [(authors.pub("bob").read_text(), "bob")])
    repo.add_author("_", authors.pub("alice").read_text(), "alice")
    repo.publish([built[k].wasm for k in PUBLISHED])
    return Reg(base / "registry", base / "keys")


@pytest.fixture
def reg(registry_template: Reg, tmp_path: Path) -> Reg:
    """A private copy of the published registry (and its keys) for a test to change or attack."""
    shutil.copytree(registry_template.dir, tmp_path / "registry", symlinks=True)
    shutil.copytree(registry_template.keys, tmp_path / "keys")
    return Reg(tmp_path / "registry", tmp_path / "keys")


def cached_blobs(cache: Path) -> list[Path]:
    d = cache / "blobs" / "sha256"
    return sorted(d.iterdir()) if d.is_dir() else []
