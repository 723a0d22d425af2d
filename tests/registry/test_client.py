"""The client against real servers: our `serve`, `python -m http.server`, and file:// URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugin_format.errors import FetchError, NotFoundError, RegistryError, TrustError
from registry_static.client import RegistryClient
from registry_static.server import BackgroundServer
from tests.conftest import free_port, run_cli

from .conftest import Reg, cached_blobs
from .helpers import process_server, recorder


def _fetch_and_check(url: str, cache: Path) -> RegistryClient:
    client = RegistryClient(url, cache)
    info = client.resolve("@acme/weather", "^1.1")
    assert info.version == "1.2.0" and not info.yanked
    got = client.fetch(info.name, info.version)
    assert got.manifest["name"] == "@acme/weather" and got.manifest["wasm"]["sha256"] == got.sha256
    assert got.path.read_bytes() == got.wasm and got.path.parent == cache / "blobs" / "sha256"
    assert got.wasm[:4] == b"\0asm"
    assert client.resolve("greeter", "*").version == "0.1.0"
    return client


def test_publish_serve_over_http_fetch_and_verify(registry_template: Reg, tmp_path: Path) -> None:
    with BackgroundServer(registry_template.dir) as url:
        one = RegistryClient(url, tmp_path / "one")
        one.fetch("@acme/weather", one.resolve("@acme/weather", "^1").version)
        # what one package costs a fresh client: the root walk (1.root.json + the 2.root.json 404),
        # timestamp, snapshot, targets, the scope's role, the index file, then wasm + plugin.json + sig
        assert one.stats.files == 9 and one.stats.requests == 10, one.stats.urls
        _fetch_and_check(url, tmp_path / "cache")
        again = RegistryClient(url, tmp_path / "cache")
        again.fetch("@acme/weather", "1.2.0")
        blob_urls = [u for u in again.stats.urls if "/blobs/" in u]
        assert blob_urls == [] and not any("index/" in u for u in again.stats.urls)  # cached and re-verified


def test_registry_served_by_python_http_server(registry_template: Reg, tmp_path: Path) -> None:
    port = free_port()
    with process_server(
        "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(registry_template.dir), port=port
    ) as url:
        _fetch_and_check(url, tmp_path / "cache")


def test_registry_from_file_url_and_plain_path(registry_template: Reg, tmp_path: Path) -> None:
    _fetch_and_check(registry_template.dir.as_uri(), tmp_path / "c1")
    _fetch_and_check(str(registry_template.dir), tmp_path / "c2")


def test_cli_show_and_fetch(registry_template: Reg, tmp_path: Path) -> None:
    p = run_cli(
        "-m",
        "registry_static.cli",
        "show",
        str(registry_template.dir),
        "@acme/weather",
        "--json",
        "--cache",
        str(tmp_path / "c"),
    )
    assert p.returncode == 0, p.stderr
    assert [v["version"] for v in json.loads(p.stdout)][-1] == "2.0.0-rc.1"
    p = run_cli(
        "-m",
        "registry_static.cli",
        "fetch",
        registry_template.dir.as_uri(),
        "@acme/weather@~1.1",
        "--out",
        str(tmp_path / "out"),
        "--cache",
        str(tmp_path / "c"),
        "--json",
    )
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["version"] == "1.1.0" and Path(doc["files"][".wasm"]).is_file()
    p = run_cli(
        "-m",
        "registry_static.cli",
        "fetch",
        str(registry_template.dir),
        "@acme/weather@^9",
        "--cache",
        str(tmp_path / "c"),
    )
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    assert "no version matches '^9' (available: 1.0.0, 1.1.0, 1.2.0, 2.0.0-rc.1)" in p.stderr


def test_not_found_and_bad_input_errors(registry_template: Reg, tmp_path: Path) -> None:
    client = RegistryClient(str(registry_template.dir), tmp_path / "c")
    with pytest.raises(NotFoundError, match="no plugin named '@acme/nope'"):
        client.versions("@acme/nope")
    with pytest.raises(NotFoundError, match="no plugin named '@zzz/nope'"):
        client.versions("@zzz/nope")
    with pytest.raises(NotFoundError, match=r"has no version 9\.9\.9 \(published: 1\.0\.0"):
        client.fetch("@acme/weather", "9.9.9")
    with pytest.raises(RegistryError, match="not a semantic version"):
        client.fetch("@acme/weather", "latest")
    with pytest.raises(FetchError, match="not found"):
        RegistryClient(str(tmp_path / "nothing-here"), tmp_path / "c2").versions("x")
    assert cached_blobs(tmp_path / "c2") == []


def test_prerelease_only_when_asked(registry_template: Reg, tmp_path: Path) -> None:
    client = RegistryClient(str(registry_template.dir), tmp_path / "c")
    assert client.resolve("@acme/weather", "*").version == "1.2.0"
    assert client.resolve("@acme/weather", "^2.0.0-rc.1").version == "2.0.0-rc.1"


def test_root_pinning(registry_template: Reg, tmp_path: Path) -> None:
    with pytest.raises(TrustError, match="not the pinned"):
        RegistryClient(str(registry_template.dir), tmp_path / "c", root_sha256="00" * 32).versions("greeter")
    root = (registry_template.dir / "metadata" / "1.root.json").read_bytes()
    assert RegistryClient(str(registry_template.dir), tmp_path / "c2", root=root).versions("greeter")


def test_private_registry_token(registry_template: Reg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with BackgroundServer(registry_template.dir, token="s3cret") as url:
        with pytest.raises(FetchError, match=r"HTTP 401.*needs a token"):
            RegistryClient(url, tmp_path / "c0").versions("greeter")
        assert cached_blobs(tmp_path / "c0") == []
        RegistryClient(url, tmp_path / "c1", token="s3cret").fetch("greeter", "0.1.0")
        monkeypatch.setenv("EXTISM_REGISTRY_TOKEN_127_0_0_1", "s3cret")
        RegistryClient(url, tmp_path / "c2").fetch("greeter", "0.1.0")


def test_token_never_follows_a_redirect_to_another_origin(tmp_path: Path) -> None:
    with recorder() as (elsewhere, seen_elsewhere), recorder(redirect_to=elsewhere) as (registry, seen_registry):
        with pytest.raises(RegistryError):
            RegistryClient(registry, tmp_path / "c", token="s3cret").versions("greeter")
        assert seen_registry and all(auth == "Bearer s3cret" for _, auth in seen_registry)
        assert seen_elsewhere and all(auth is None for _, auth in seen_elsewhere)
