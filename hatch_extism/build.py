"""From a plugin project to signed artifacts: compile, audit the module, write, sign.

`dist/<name>-<version>.wasm`, `.plugin.json` (the resolved manifest, the wasm's sha256 and size,
the toolchain) and `.sig` (a DSSE envelope over {name, version, wasm sha256, plugin.json sha256}).
All three are written atomically, the `.sig` last, so a reader never sees a half-written set.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hatch_extism.data import link_pdk, pdk_dir
from hatch_extism.toolchains import BuildRequest, get_toolchain
from hatch_extism.toolchains.base import Progress, _quiet
from plugin_format import bom, signing
from plugin_format.artifact import PLUGIN_JSON_SCHEMA, artifact_paths, canonical_json, sha256_hex, verify_bytes
from plugin_format.errors import BuildError, ExtismPlatformError
from plugin_format.files import atomic_write
from plugin_format.host_functions import ENV_MODULE
from plugin_format.manifest import PluginManifest, examples_from_tests
from plugin_format.wasm import check_module, inspect_module


@dataclass(frozen=True)
class Artifacts:
    wasm: Path
    plugin_json: Path
    sig: Path
    wasm_sha256: str
    key_id: str | None  # None: unsigned

    def to_dict(self) -> dict[str, Any]:
        return {
            "wasm": str(self.wasm),
            "plugin_json": str(self.plugin_json),
            "sig": str(self.sig),
            "wasm_sha256": self.wasm_sha256,
            "signed": self.key_id is not None,
            "key_id": self.key_id,
        }


_SKIP_DIRS = {
    "dist",
    "build",
    "target",
    "node_modules",
    ".git",
    "__pycache__",
    ".zig-cache",
    "zig-out",
    ".nox",
    ".extism",
}


def source_fingerprint(manifest: PluginManifest, toolchain_version: str, optimize: str) -> str:
    """A hash of everything a build reads: plugin.yaml, the project's files, the PDK, the
    compiler's version and the optimisation level."""
    h = hashlib.sha256(f"{toolchain_version}\0{optimize}\0".encode())
    for root in (manifest.project_dir, pdk_dir(manifest.language)):
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not (set(rel.parts[:-1]) & _SKIP_DIRS) and not rel.name.startswith("."):
                h.update(f"{root.name}/{rel.as_posix()}\0".encode())
                h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _reusable(
    paths: tuple[Path, Path, Path], fingerprint_file: Path, fingerprint: str, key: Ed25519PrivateKey | None
) -> Artifacts | None:
    """The artifacts already in dist/, when they were built from exactly these sources and are
    signed the way this build would sign them (`hatch build` builds the sdist, then the wheel)."""
    wasm_path, json_path, sig_path = paths
    try:
        if fingerprint_file.read_text().strip() != fingerprint:
            return None
        data = [p.read_bytes() for p in paths]
        v = verify_bytes(*data, keys=[key.public_key()] if key else [], require_signature=key is not None)
    except (OSError, ExtismPlatformError):
        return None
    if key is None and v.signed:
        return None
    return Artifacts(wasm_path, json_path, sig_path, v.wasm_sha256, v.key_ids[0] if key else None)


def build_artifacts(
    manifest: PluginManifest,
    dist: Path,
    *,
    key: Ed25519PrivateKey | None,
    progress: Progress = _quiet,
    optimize: str = "small",
    reuse: bool = False,
) -> Artifacts:
    """Compile, check and sign; `key=None` writes an explicitly unsigned envelope.

    With `reuse`, artifacts already in `dist` that were built from the same sources with the same
    toolchain and key are kept instead of compiling again."""
    toolchain = get_toolchain(manifest.language)
    toolchain.ensure_installed(progress)
    wasm_path, json_path, sig_path = artifact_paths(dist, manifest.artifact_stem)
    fingerprint_file = dist / f".{manifest.artifact_stem}.fingerprint"
    fingerprint = source_fingerprint(manifest, toolchain.version(), optimize)
    if reuse:
        kept = _reusable((wasm_path, json_path, sig_path), fingerprint_file, fingerprint, key)
        if kept is not None:
            progress(f"{wasm_path.name}, {json_path.name}, {sig_path.name}: up to date (same sources, same key)")
            return kept
    if pdk_dir(manifest.language).is_dir():  # `prebuilt` has no PDK to link
        link_pdk(manifest.project_dir, manifest.language)
    staging = dist / f".{manifest.artifact_stem}.build.wasm"
    result = toolchain.build(
        BuildRequest(
            project_dir=manifest.source_dir,
            output=staging.resolve(),
            exports=[e.name for e in manifest.exports],
            optimize=optimize,
            settings=manifest.build,
            manifest_dir=manifest.project_dir,
        ),
        progress,
    )
    try:
        wasm = staging.read_bytes()
        try:
            info = inspect_module(wasm)
        except ValueError as exc:
            raise BuildError(f"{manifest.language} build produced an unusable module: {exc}") from None
        check_module(info, manifest)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    wasm_sha = sha256_hex(wasm)
    doc = {
        "schema": PLUGIN_JSON_SCHEMA,
        **manifest.to_dict(),
        "wasm": {"file": wasm_path.name, "sha256": wasm_sha, "size": len(wasm)},
        "toolchain": {"name": result.toolchain, "version": result.toolchain_version},
        "imports": sorted({f"{m}::{n}" for m, n, _ in info.imports if m != ENV_MODULE}),
        # plugin.yaml's tests as documentation examples (the registry site shows them)
        "examples": examples_from_tests(manifest.tests),
    }
    if result.bom:
        doc["bom"] = bom.normalise(result.bom)
    try:
        bom.check_plugin_json(doc)
    except BuildError:
        staging.unlink(missing_ok=True)
        raise
    plugin_json = canonical_json(doc)
    stmt = signing.statement(manifest.name, manifest.version, wasm_sha, sha256_hex(plugin_json))
    envelope = signing.sign_statement(stmt, key) if key else signing.unsigned_envelope(stmt)
    os.replace(staging, wasm_path)
    atomic_write(json_path, plugin_json)
    atomic_write(sig_path, canonical_json(envelope))
    atomic_write(fingerprint_file, fingerprint.encode() + b"\n")
    kid = signing.key_id(key.public_key()) if key else None
    progress(
        f"wrote {wasm_path.name} ({len(wasm):,} bytes, sha256 {wasm_sha[:12]}…), "
        f"{json_path.name}, {sig_path.name} ({'signed ' + kid[:16] if kid else 'UNSIGNED'})"
    )
    return Artifacts(wasm_path, json_path, sig_path, wasm_sha, kid)
