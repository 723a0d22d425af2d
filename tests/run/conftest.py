"""Fixtures of the run side's tests: the example plugins built once per session (real compilers,
real signatures), a loopback weather API, and helpers to make tampered or hand-made artifacts."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from extism_platform.audit import AuditLog
from extism_platform.demo import WeatherAPI, build_examples
from extism_platform.grants import grants_from_options
from extism_platform.host.runtime import Host
from extism_platform.host.sources import from_dist
from plugin_format.artifact import canonical_json, sha256_hex
from plugin_format.signing import TRUSTED_KEYS_ENV, load_private_key, sign_statement, statement

PROBE = "@examples/probe"
WEATHER = "@examples/weather"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """{dist, key, pub}: probe + weather, signed with a session key, which this session's hosts
    (and the servers it starts) know through $EXTISM_TRUSTED_KEYS, as a user knows their own."""
    root = tmp_path_factory.mktemp("examples")
    key = root / "key.pem"
    build_examples(root / "dist", key)
    pub = Path(str(key) + ".pub")
    before = os.environ.get(TRUSTED_KEYS_ENV)
    os.environ[TRUSTED_KEYS_ENV] = str(pub)
    yield {"dist": root / "dist", "key": key, "pub": pub}
    if before is None:
        os.environ.pop(TRUSTED_KEYS_ENV, None)
    else:
        os.environ[TRUSTED_KEYS_ENV] = before


@pytest.fixture()
def weather_api() -> Iterator[WeatherAPI]:
    with WeatherAPI() as api:
        yield api


@pytest.fixture()
def make_host(built: dict[str, Path], tmp_path: Path) -> Callable[..., Host]:
    """make_host(*grant_options, dist=None, resolve=None) → a Host with an audit log in tmp_path."""
    hosts: list[Host] = []

    def make(
        *grants: str, dist: Path | None = None, resolve: dict[str, str] | None = None, allow_unsigned: bool = False
    ) -> Host:
        from extism_platform.host.http import HttpSettings

        host = Host(
            grants=grants_from_options(grants),
            audit=AuditLog(tmp_path / "audit.jsonl"),
            http=HttpSettings(resolve=resolve or {}),
        )
        host.add_all(from_dist(dist or built["dist"], allow_unsigned=allow_unsigned))
        hosts.append(host)
        return host

    yield make
    for h in hosts:
        h.close()
        h.audit.close()


def call_json(host: Host, plugin: str, export: str, args: dict[str, Any]) -> Any:
    return json.loads(host.call(plugin, export, json.dumps(args).encode()).output)


def resign(
    built: dict[str, Path], stem: str, out: Path, mutate: Callable[[dict[str, Any]], None], *, wasm: bytes | None = None
) -> Path:
    """Copy one artifact into `out` with its plugin.json changed by `mutate` (and optionally other
    wasm bytes), signed again by the session key: a hand-made build the build check never saw."""
    out.mkdir(parents=True, exist_ok=True)
    src = built["dist"]
    wasm = wasm if wasm is not None else (src / f"{stem}.wasm").read_bytes()
    doc = json.loads((src / f"{stem}.plugin.json").read_text())
    mutate(doc)
    doc["wasm"]["sha256"] = sha256_hex(wasm)
    doc["wasm"]["size"] = len(wasm)
    plugin_json = canonical_json(doc)
    stmt = statement(doc["name"], doc["version"], sha256_hex(wasm), sha256_hex(plugin_json))
    (out / f"{stem}.wasm").write_bytes(wasm)
    (out / f"{stem}.plugin.json").write_bytes(plugin_json)
    (out / f"{stem}.sig").write_bytes(canonical_json(sign_statement(stmt, load_private_key(built["key"]))))
    return out


@pytest.fixture(scope="session")
def author_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A session author key (private PEM path; `.pub` beside it) that no host trusts by itself: the
    registry vouches for it (its scope's author) once published."""
    from plugin_format.signing import generate_keypair

    path = tmp_path_factory.mktemp("author") / "author.pem"
    generate_keypair(path)
    yield path


def need_toolchains(*languages: str) -> None:
    """Install these languages' compilers as `extism-plugin toolchains --install` does, or skip the
    test saying what is missing."""
    from hatch_extism.toolchains import get_toolchain
    from plugin_format.errors import ToolchainError

    for lang in languages:
        try:
            get_toolchain(lang).ensure_installed()
        except ToolchainError as exc:
            pytest.skip(f"no {lang} toolchain: {exc}")


def build_project(project: Path, out: Path, key: Path | None, *, rewrite: Callable[[str], str] | None = None) -> Path:
    """Copy a plugin project into `out/<name>` (builds never write into the checkout), optionally
    rewrite its plugin.yaml text, build it with the real compiler into `out/dist`, signed with
    `key`; the .wasm path."""

    from hatch_extism.build import build_artifacts
    from plugin_format.manifest import load_manifest

    copy = out / "projects" / project.name
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build", "dist", ".extism"))
    if rewrite is not None:
        (copy / "plugin.yaml").write_text(rewrite((copy / "plugin.yaml").read_text()))
    return build_artifacts(load_manifest(copy), out / "dist", key=load_private_key(key) if key else None).wasm


def publish_registry(root: Path, scope: str, author_pub: Path, wasms: list[Path]) -> str:
    """A fresh signed registry under `root` (keys beside it) with `wasms` published into `scope`
    by the author whose public key is `author_pub`; its file:// URL."""
    from registry_static.repository import Repository

    repo = Repository.init(root / "registry", root / "registry.keys", name="test", fsync=False)
    repo.add_scope(scope, [(author_pub.read_text(), "author")])
    repo.publish(sorted(wasms))
    return (root / "registry").as_uri()
