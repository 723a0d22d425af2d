"""Signed plugin artifacts: their file names, canonical bytes, and verification.

A built plugin is three files: `<stem>.wasm`, `<stem>.plugin.json` (the resolved manifest, the
wasm's sha256 and size, the toolchain) and `<stem>.sig` (a DSSE envelope over {name, version, wasm
sha256, plugin.json sha256}). Verification checks the three against each other and, given keys,
the signature; it never compiles or runs anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plugin_format import signing
from plugin_format.errors import VerifyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PLUGIN_JSON_SCHEMA = "extism-platform/plugin.json@1"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(doc: Any) -> bytes:
    """Stable bytes for hashing: sorted keys, fixed separators, UTF-8, trailing newline."""
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def artifact_paths(dist: Path, stem: str) -> tuple[Path, Path, Path]:
    return dist / f"{stem}.wasm", dist / f"{stem}.plugin.json", dist / f"{stem}.sig"


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
    known_keys: list[Ed25519PublicKey] | None = None,
) -> Verified:
    """Check the three files against each other and, when `keys` are given, the signature.

    With `known_keys` (e.g. `signing.known_public_keys()`) and no `keys`, the signature must verify
    against the known key its key id names; one that names no known key counts as unsigned (it
    cannot be checked, so it proves nothing), and one that fails to verify is an error. Without
    either, `signed` only says that a signature is present (the registry checks it with the
    scope's keys itself).

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
    if signed and not keys and known_keys is not None:
        ids = ", ".join(k[:16] for k in envelope.key_ids)
        by_id = {signing.key_id(k): k for k in known_keys}
        known = [by_id[k] for k in envelope.key_ids if k in by_id]
        if known and not any(envelope.verify(k) for k in known):
            raise VerifyError(f"{where}.sig: the signature by key id {ids} does not verify (tampered or forged)")
        if not known:
            if require_signature:
                raise VerifyError(
                    f"{where}.sig: signed by key id {ids}, which is not a key this machine trusts, so the "
                    "signature cannot be checked (pass its public key with --trust-key, or --allow-unsigned)"
                )
            signed = False
    if not signed and require_signature:
        raise VerifyError(f"{where}.sig: the artifact is unsigned (built with --unsigned)")
    trusted = False
    if keys and signed:
        trusted = any(envelope.verify(k) for k in keys)
        if not trusted:
            ids = ", ".join(k[:16] for k in envelope.key_ids)
            raise VerifyError(f"{where}.sig: no valid signature by the given key(s) (signed by key id {ids})")
    return Verified(stmt["name"], stmt["version"], stmt["wasm_sha256"], envelope.key_ids, signed, trusted, doc)


def verify_artifact(
    artifact: Path,
    *,
    keys: list[Ed25519PublicKey],
    require_signature: bool = True,
    known_keys: list[Ed25519PublicKey] | None = None,
) -> Verified:
    wasm_path, json_path, sig_path = locate(artifact)
    files = {}
    for p in (wasm_path, json_path, sig_path):
        try:
            files[p] = p.read_bytes()
        except OSError as exc:
            raise VerifyError(f"{p}: {exc.strerror}") from None
    stem = str(wasm_path.with_suffix(""))
    return verify_bytes(
        files[wasm_path],
        files[json_path],
        files[sig_path],
        keys=keys,
        require_signature=require_signature,
        where=stem,
        known_keys=known_keys,
    )
