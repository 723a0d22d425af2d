"""Resolver at scale: a synthetic registry of 10,000 packages × 10 versions (100 scopes × 100), with
dependencies fanning out as in real ecosystems, served on 127.0.0.1 by the registry's own server.

Generated once into the platform cache (`bench/resolver-registry/` under `$EXTISM_PLATFORM_CACHE`,
shared by every checkout; reused while the parameters are the same) with real signatures: one
Ed25519 author key signs every artifact statement (DSSE), each scope's TUF role is signed once per
scope — one `publish_bytes` transaction per scope, as a real bulk publish does — and
snapshot/timestamp once per transaction. Generation time is reported, never counted.

For a few root sets, a fresh client (cold TUF cache) and then a warm one (same cache, new process
state) resolve through `registry_static.install.RegistrySource` + `Resolver`: the table shows wall
time, resolver steps (decisions + conflicts), packages chosen, files and bytes fetched, and files
fetched per package chosen (the ratio lazy fetching keeps near 1; TUF metadata counts too). One set
has no solution: its row shows the length of the proof the error gives. Writes
build/bench/resolver.json.

Fan-out: package i's versions depend on 0–4 packages with lower ids (so the graph is a DAG), mostly
its neighbours and sometimes one of 50 "core" packages everyone uses; older versions ask for older
major lines, so some roots need backtracking.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from plugin_format import signing
from plugin_format.artifact import sha256_hex
from plugin_format.files import atomic_write_text
from plugin_format.paths import cache_dir
from registry_static.client import RegistryClient
from registry_static.install import RegistrySource
from registry_static.project import parse_project
from registry_static.repository import Repository
from registry_static.resolver import Resolver
from registry_static.server import BackgroundServer
from tests.registry.helpers import signed_artifact

BENCH = Path("build") / "bench"
OUT = BENCH / "resolver.json"
SCOPES, PER_SCOPE = 100, 100
VERSIONS = ["0.1.0", "0.2.0", "1.0.0", "1.1.0", "1.2.0", "1.2.1", "2.0.0", "2.1.0", "2.2.0", "2.2.1"]
CORE = 50
SEED = 11
PARAMS = {"scopes": SCOPES, "per_scope": PER_SCOPE, "versions": VERSIONS, "core": CORE, "seed": SEED, "v": 2}
WASM = b"\x00asm\x01\x00\x00\x00"  # a valid (empty) module: resolution never reads it


def name_of(i: int) -> str:
    return f"@s{i // PER_SCOPE:03d}/p{i % PER_SCOPE:03d}"


def dependencies(i: int, version: str, rng: random.Random) -> dict[str, str]:
    if i == 0:
        return {}
    fan = min(i, rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4)))
    deps: dict[str, str] = {}
    for _ in range(fan):
        j = rng.randrange(0, min(i, CORE)) if rng.random() < 0.3 else rng.randrange(max(0, i - 200), i)
        major = version.split(".")[0]
        # new lines ask for the dependency's 2.x, old ones for 1.x (or 0.2): realistic drift, some conflicts
        deps[name_of(j)] = {"2": "^2.1", "1": "^1.1", "0": "^0.2"}[major] if rng.random() < 0.98 else "^1"
    return deps


def generate(directory: Path) -> dict[str, Any]:
    """The registry (and its keys) under `directory`; returns what generating it cost."""
    stamp = directory / "params.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == {**PARAMS, "done": True}:
        return json.loads((directory / "generated.json").read_text())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    t0 = time.perf_counter()
    signing.generate_keypair(directory / "author.pem")
    key = signing.load_private_key(directory / "author.pem")
    pem = (directory / "author.pem.pub").read_text()
    repo = Repository.init(directory / "registry", directory / "keys", name="bench", fsync=False)
    template = {"wasm": {"sha256": sha256_hex(WASM), "size": len(WASM)}, "language": "c", "license": "MIT"}
    rng = random.Random(SEED)
    edges = 0
    for s in range(SCOPES):
        repo.add_scope(f"@s{s:03d}", [(pem, "author")])
        items = []
        for p in range(PER_SCOPE):
            i = s * PER_SCOPE + p
            for v in VERSIONS:
                deps = dependencies(i, v, rng)
                edges += len(deps)
                items.append(signed_artifact(template, WASM, name_of(i), v, key, dependencies=deps, exports=[]))
        repo.publish_bytes(items)
    doc = {
        "generate_s": round(time.perf_counter() - t0, 1),
        "packages": SCOPES * PER_SCOPE,
        "versions": SCOPES * PER_SCOPE * len(VERSIONS),
        "dependency_edges": edges,
        "files": sum(1 for f in (directory / "registry").rglob("*") if f.is_file()),
    }
    atomic_write_text(directory / "generated.json", json.dumps(doc))
    atomic_write_text(stamp, json.dumps({**PARAMS, "done": True}))
    return doc


def resolve_once(url: str, cache: Path, roots: dict[str, str]) -> dict[str, Any]:
    plugins = "".join(f'  "{n}": "{r}"\n' for n, r in roots.items())
    project = parse_project(cache.parent / "extism.yaml", f"registries:\n  default: {url}\nplugins:\n{plugins}")
    client = RegistryClient(url, cache)
    source = RegistrySource(project, lambda ref: client)
    resolver = Resolver(source, root="extism.yaml")
    t0 = time.perf_counter()
    error = None
    try:
        chosen = resolver.resolve(roots)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports a failed resolution, it does not stop
        chosen, error = {}, str(exc).splitlines()
    return {
        "ms": round((time.perf_counter() - t0) * 1000, 1),
        "files": client.stats.files,
        "requests": client.stats.requests,
        "bytes": client.stats.bytes,
        "steps": resolver.steps,
        "resolved": len(chosen),
        "files_per_resolved": round(client.stats.files / len(chosen), 2) if chosen else None,
        "error": error[0] if error else None,
        "proof_lines": len(error) - 1 if error else None,
    }


def root_sets() -> dict[str, dict[str, str]]:
    rng = random.Random(SEED + 1)
    n = SCOPES * PER_SCOPE
    pick = lambda k: {name_of(i): "^2" for i in rng.sample(range(n // 2, n), k)}  # noqa: E731
    return {
        "1 core package": {name_of(CORE - 1): "^2"},
        "1 leaf package": {name_of(n - 2): "^2"},
        "3 packages": pick(3),
        "5 packages": pick(5),
        "10 packages": pick(10),
        "50 packages": pick(50),
        "10 packages, old lines (^1)": {k: "^1" for k in pick(10)},
        # a core package's newest line with an old line that needs its 1.x (found by trying pairs)
        "2 packages, no solution": {name_of(10): "^2.2", name_of(107): "^1.2"},
    }


def main() -> int:
    directory = cache_dir() / "bench" / "resolver-registry"
    print(f"generating {SCOPES * PER_SCOPE:,} packages × {len(VERSIONS)} versions (reused when present) …")
    gen = generate(directory)
    print(f"registry: {gen['versions']:,} versions, {gen['dependency_edges']:,} dependency edges, "
          f"{gen['files']:,} files, generated in {gen['generate_s']} s (not counted)")  # fmt: skip
    rows: dict[str, Any] = {}
    with BackgroundServer(directory / "registry") as url, tempfile.TemporaryDirectory() as tmp:
        for label, roots in root_sets().items():
            cache = Path(tmp) / label.replace(" ", "-").replace("(", "").replace(")", "") / "cache"
            cache.mkdir(parents=True)
            rows[label] = {"roots": len(roots), "cold": resolve_once(url, cache, roots)}
            rows[label]["warm"] = resolve_once(url, cache, roots)
    header = (
        f"{'roots':<30}{'resolved':>9}{'steps':>7}{'cold ms':>9}{'files':>7}{'per plugin':>11}{'KB':>8}"
        f"{'warm ms':>9}{'files':>7}"
    )
    print(header)
    print("-" * len(header))
    for label, r in rows.items():
        c, w = r["cold"], r["warm"]
        per = f"{c['files_per_resolved']:.2f}" if c["files_per_resolved"] else "-"
        print(
            f"{label:<30}{c['resolved']:>9}{c['steps']:>7}{c['ms']:>9.1f}{c['files']:>7}{per:>11}"
            f"{c['bytes'] / 1024:>8.1f}{w['ms']:>9.1f}{w['files']:>7}"
            + (f"  ({c['error']}; a proof of {c['proof_lines']} lines)" if c["error"] else "")
        )
    doc = {"registry": {**PARAMS, **gen}, "transport": "http://127.0.0.1 (registry_static.server)", "roots": rows}
    atomic_write_text(OUT, json.dumps(doc, indent=2))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
