"""From a plugin project to signed artifacts, and back: build, check, write, verify.

`dist/<name>-<version>.wasm`, `.plugin.json` (the resolved manifest, the wasm's sha256 and size,
the toolchain) and `.sig` (a DSSE envelope over {name, version, wasm sha256, plugin.json sha256}).
All three are written atomically, the `.sig` last, so a reader never sees a half-written set.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hatch_extism import signing
from hatch_extism.errors import BuildError, ExtismPlatformError
from hatch_extism.files import atomic_write
from hatch_extism.host_functions import allowed_imports
from hatch_extism.manifest import PluginManifest
from hatch_extism.toolchains import BuildRequest, get_toolchain
from hatch_extism.toolchains.base import Progress, _quiet
from hatch_extism.wasm_inspect import WASI_MODULES, ModuleInfo, inspect_module

PLUGIN_JSON_SCHEMA = "extism-platform/plugin.json@1"
ENV_MODULE = "extism:host/env"
USER_MODULE = "extism:host/user"


class VerifyError(ExtismPlatformError):
    """An artifact does not match its signature, its manifest, or the given key."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(doc: Any) -> bytes:
    """Stable bytes for hashing: sorted keys, fixed separators, UTF-8, trailing newline."""
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def check_module(info: ModuleInfo, manifest: PluginManifest) -> None:
    """The module must export what plugin.yaml declares and import only what it may."""
    problems = []
    for exp in manifest.exports:
        sig = info.func_exports.get(exp.name)
        if sig is None:
            problems.append(f"export {exp.name!r} is declared in plugin.yaml but the module does not export it")
        elif sig != ([], ["i32"]):
            problems.append(f"export {exp.name!r} has signature {sig[0]} -> {sig[1]}; Extism exports are () -> i32")
    user_ok = allowed_imports(manifest.permissions.host_functions)
    for mod, name, kind in info.imports:
        if mod == ENV_MODULE:
            continue
        if mod == USER_MODULE:
            if name not in user_ok:
                problems.append(
                    f"import {mod}::{name} is not declared: add {name!r} (or its group) to "
                    "permissions.host_functions in plugin.yaml"
                )
        elif mod in WASI_MODULES:
            if not manifest.wasi:
                problems.append(f"import {mod}::{name} needs WASI: set `wasi: true` in plugin.yaml")
        else:
            problems.append(f"import {mod}::{name} ({kind}) is from a module the Extism host does not provide")
    if problems:
        raise BuildError(f"{manifest.path.name}: the built module does not match:\n  " + "\n  ".join(problems))


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


def artifact_paths(dist: Path, stem: str) -> tuple[Path, Path, Path]:
    return dist / f"{stem}.wasm", dist / f"{stem}.plugin.json", dist / f"{stem}.sig"


_SKIP_DIRS = {"dist", "build", "target", "node_modules", ".git", "__pycache__", ".zig-cache", "zig-out", ".nox"}


def source_fingerprint(manifest: PluginManifest, toolchain_version: str, optimize: str) -> str:
    """A hash of everything a build reads: plugin.yaml, the project's files, the PDK, the
    compiler's version and the optimisation level."""
    from hatch_extism.paths import pdk_dir

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
    staging = dist / f".{manifest.artifact_stem}.build.wasm"
    result = toolchain.build(
        BuildRequest(
            project_dir=manifest.source_dir,
            output=staging.resolve(),
            exports=[e.name for e in manifest.exports],
            optimize=optimize,
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
    }
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


@dataclass(frozen=True)
class Verified:
    name: str
    version: str
    wasm_sha256: str
    key_ids: list[str]
    signed: bool
    trusted: bool  # verified against a key the caller trusts
    manifest: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "wasm_sha256": self.wasm_sha256,
            "key_ids": self.key_ids,
            "signed": self.signed,
            "trusted": self.trusted,
        }


def locate(artifact: Path) -> tuple[Path, Path, Path]:
    """Any of the three files (or its stem) → all three paths."""
    name = artifact.name
    for suffix in (".plugin.json", ".wasm", ".sig"):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            break
    else:
        stem = name
    return artifact_paths(artifact.parent, stem)


def verify_bytes(
    wasm: bytes,
    plugin_json: bytes,
    sig: bytes,
    *,
    keys: list[Ed25519PublicKey],
    require_signature: bool = True,
    where: str = "artifact",
) -> Verified:
    """Check the three files against each other and, when `keys` are given, the signature.

    Raises `VerifyError` naming the file that is wrong."""
    envelope = signing.parse_envelope(sig, f"{where}.sig")
    stmt = envelope.statement
    if sha256_hex(plugin_json) != stmt.get("plugin_json_sha256"):
        raise VerifyError(f"{where}.plugin.json: sha256 does not match the signed statement (modified?)")
    if sha256_hex(wasm) != stmt.get("wasm_sha256"):
        raise VerifyError(f"{where}.wasm: sha256 does not match the signed statement (modified?)")
    try:
        doc = json.loads(plugin_json)
    except ValueError:
        raise VerifyError(f"{where}.plugin.json: not JSON") from None
    if doc.get("wasm", {}).get("sha256") != stmt["wasm_sha256"]:
        raise VerifyError(f"{where}.plugin.json: its wasm.sha256 differs from the signed statement")
    if (doc.get("name"), doc.get("version")) != (stmt.get("name"), stmt.get("version")):
        raise VerifyError(f"{where}.plugin.json: name/version differ from the signed statement")
    signed = bool(envelope.signatures)
    if not signed and require_signature:
        raise VerifyError(f"{where}.sig: the artifact is unsigned (built with --unsigned)")
    trusted = False
    if keys and signed:
        trusted = any(envelope.verify(k) for k in keys)
        if not trusted:
            ids = ", ".join(k[:16] for k in envelope.key_ids)
            raise VerifyError(f"{where}.sig: no valid signature by the given key(s) (signed by key id {ids})")
    return Verified(stmt["name"], stmt["version"], stmt["wasm_sha256"], envelope.key_ids, signed, trusted, doc)


def verify_artifact(artifact: Path, *, keys: list[Ed25519PublicKey], require_signature: bool = True) -> Verified:
    wasm_path, json_path, sig_path = locate(artifact)
    files = {}
    for p in (wasm_path, json_path, sig_path):
        try:
            files[p] = p.read_bytes()
        except OSError as exc:
            raise VerifyError(f"{p}: {exc.strerror}") from None
    stem = str(wasm_path.with_suffix(""))
    return verify_bytes(
        files[wasm_path], files[json_path], files[sig_path], keys=keys, require_signature=require_signature, where=stem
    )
