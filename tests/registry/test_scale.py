"""A registry of 10,000 packages (100 scopes × 100): what one install downloads, what one publish costs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hatch_extism.build import Artifacts
from registry_static.client import RegistryClient
from registry_static.repository import Repository
from registry_static.server import BackgroundServer
from tests.conftest import ROOT

from .conftest import Authors
from .helpers import signed_artifact

SCOPES, PER_SCOPE = 100, 100


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory, authors: Authors, built: dict[str, Artifacts]) -> dict:
    base = tmp_path_factory.mktemp("scale")
    src = built["@acme/units@0.3.1"]
    wasm, template = src.wasm.read_bytes(), json.loads(src.plugin_json.read_bytes())
    key = authors.private("alice")
    t0 = time.perf_counter()
    repo = Repository.init(base / "registry", base / "keys", fsync=False)
    pem = authors.pub("alice").read_text()
    for s in range(SCOPES):
        repo.add_scope(f"@org{s:03d}", [(pem, "alice")])
    items = [
        signed_artifact(template, wasm, f"@org{s:03d}/plugin-{p:03d}", "1.0.0", key)
        for s in range(SCOPES)
        for p in range(PER_SCOPE)
    ]
    repo.publish_bytes(items)
    fill = time.perf_counter() - t0
    return {
        "dir": base / "registry",
        "keys": base / "keys",
        "fill_s": fill,
        "template": template,
        "wasm": wasm,
        "key": key,
    }


def test_one_package_from_10000_touches_a_few_small_files(big: dict, tmp_path: Path) -> None:
    repo = Repository(big["dir"], big["keys"])  # durable writes (fsync) for the measured publish
    assert len(repo.packages("org042")) == PER_SCOPE
    t0 = time.perf_counter()
    repo.publish_bytes([signed_artifact(big["template"], big["wasm"], "@org042/plugin-007", "1.1.0", big["key"])])
    publish_s = time.perf_counter() - t0
    with BackgroundServer(big["dir"]) as url:
        client = RegistryClient(url, tmp_path / "cache")
        info = client.resolve("@org042/plugin-007", "^1")
        client.fetch(info.name, info.version)
        stats = client.stats
    meta_bytes = sum((big["dir"] / u[len(url) :]).stat().st_size for u in stats.urls if "/blobs/" not in u)
    files_in_registry = sum(1 for _ in big["dir"].rglob("*") if _.is_file())
    result = {
        "packages": SCOPES * PER_SCOPE + 1,
        "files_in_registry": files_in_registry,
        "fresh_client_files": stats.files,
        "fresh_client_requests": stats.requests,
        "fresh_client_bytes": stats.bytes,
        "metadata_and_index_bytes": meta_bytes,
        "publish_one_s": round(publish_s, 3),
        "fill_10000_s": round(big["fill_s"], 1),
        "urls": [u[len(url) :] for u in stats.urls],
    }
    out = ROOT / "build" / "registry" / "scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    assert info.version == "1.1.0"
    assert stats.files == 9 and stats.requests == 10
    assert meta_bytes < 100_000, result
    assert publish_s < 2.0, result
