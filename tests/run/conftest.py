"""Fixtures of the run side's tests: the example plugins built once per session (real compilers,
real signatures), a loopback weather API, and helpers to make tampered or hand-made artifacts."""

from __future__ import annotations

import json
import os
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
