"""Attacks on a published registry: each is refused with a clear error and leaves no blob in the cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from hatch_extism.build import Artifacts
from plugin_format.errors import IntegrityError, NotFoundError, TrustError
from registry_static.client import RegistryClient
from registry_static.keys import KeyStore
from registry_static.layout import blob_path, consistent_path, index_path
from registry_static.repository import SERIALIZER
from registry_static.server import BackgroundServer

from .conftest import Reg, cached_blobs


def _index_file(reg: Reg, name: str) -> Path:
    tf = reg.repo().role("scope-acme").signed.targets[index_path(name)]
    return reg.dir / consistent_path(index_path(name), tf.hashes["sha256"])


def _role_file(reg: Reg, role: str) -> Path:
    if role == "snapshot":
        return reg.dir / "metadata" / f"{reg.repo().timestamp().signed.snapshot_meta.version}.snapshot.json"
    return reg.dir / "metadata" / f"{reg.repo().snapshot().signed.meta[role + '.json'].version}.{role}.json"


def test_tampered_blob_over_http(reg: Reg, tmp_path: Path) -> None:
    entry = reg.repo().index("@acme/weather").get("1.2.0")
    blob = reg.dir / blob_path(entry.wasm.sha256)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF  # same size, different content
    blob.write_bytes(bytes(data))
    with BackgroundServer(reg.dir) as url:
        with pytest.raises(IntegrityError, match=r"sha256/size differ from the signed index file \(tampered blob\)"):
            RegistryClient(url, tmp_path / "cache").fetch("@acme/weather", "1.2.0")
    assert cached_blobs(tmp_path / "cache") == []


def test_oversized_blob(reg: Reg, tmp_path: Path) -> None:
    entry = reg.repo().index("@acme/weather").get("1.2.0")
    blob = reg.dir / blob_path(entry.sig.sha256)
    blob.write_bytes(blob.read_bytes() + b" " * 100)
    with pytest.raises(IntegrityError, match="larger than"):
        RegistryClient(str(reg.dir), tmp_path / "cache").fetch("@acme/weather", "1.2.0")
    assert cached_blobs(tmp_path / "cache") == []


def test_tampered_index_file(reg: Reg, tmp_path: Path) -> None:
    path = _index_file(reg, "@acme/weather")
    doc = json.loads(path.read_bytes())
    doc["versions"][2]["permissions"]["hosts"] = ["*"]  # quietly widen what the plugin may ask for
    path.write_text(json.dumps(doc))
    cache = tmp_path / "cache"
    with pytest.raises(TrustError, match="differs from what the signed metadata pins"):
        RegistryClient(str(reg.dir), cache).versions("@acme/weather")
    assert cached_blobs(cache) == [] and not list((cache / "registries").rglob("*weather.json"))


def _advance(reg: Reg, built: dict[str, Artifacts]) -> dict[str, bytes]:
    """Save files of the current state, then publish one more version (the registry moves on)."""
    old = {
        "timestamp": (reg.dir / "metadata" / "timestamp.json").read_bytes(),
        "snapshot": _role_file(reg, "snapshot").read_bytes(),
        "scope-acme": _role_file(reg, "scope-acme").read_bytes(),
        "index": _index_file(reg, "@acme/weather").read_bytes(),
    }
    reg.repo().publish([built["@acme/weather@1.3.0"].wasm])
    return old


def test_rollback_to_an_older_timestamp(reg: Reg, built: dict[str, Artifacts], tmp_path: Path) -> None:
    old = _advance(reg, built)
    cache = tmp_path / "cache"
    RegistryClient(str(reg.dir), cache).versions("@acme/weather")  # the client saw the new state
    (reg.dir / "metadata" / "timestamp.json").write_bytes(old["timestamp"])  # a mirror replays the old one
    with pytest.raises(TrustError, match="older than what was already trusted"):
        RegistryClient(str(reg.dir), cache).fetch("@acme/weather", "1.2.0")
    assert cached_blobs(cache) == []


def test_rollback_to_an_older_snapshot(reg: Reg, built: dict[str, Artifacts], tmp_path: Path) -> None:
    old = _advance(reg, built)
    _role_file(reg, "snapshot").write_bytes(old["snapshot"])  # valid signature, older version
    with pytest.raises(TrustError, match="pins"):
        RegistryClient(str(reg.dir), tmp_path / "cache").fetch("@acme/weather", "1.2.0")
    assert cached_blobs(tmp_path / "cache") == []


def test_rollback_of_a_scope_role(reg: Reg, built: dict[str, Artifacts], tmp_path: Path) -> None:
    old = _advance(reg, built)
    _role_file(reg, "scope-acme").write_bytes(old["scope-acme"])  # would hide 1.3.0
    with pytest.raises(TrustError, match="older than what was already trusted|version"):
        RegistryClient(str(reg.dir), tmp_path / "cache").fetch("@acme/weather", "1.2.0")
    assert cached_blobs(tmp_path / "cache") == []


def test_mix_and_match_index_file_from_another_state(reg: Reg, built: dict[str, Artifacts], tmp_path: Path) -> None:
    old = _advance(reg, built)
    _index_file(reg, "@acme/weather").write_bytes(old["index"])  # the old (validly signed then) index file
    with pytest.raises(TrustError, match="tampered, or files of two registry states mixed"):
        RegistryClient(str(reg.dir), tmp_path / "cache").fetch("@acme/weather", "1.2.0")
    assert cached_blobs(tmp_path / "cache") == []


def test_expired_timestamp_freeze(reg: Reg, tmp_path: Path) -> None:
    cfg = json.loads((reg.dir / "registry.json").read_text())
    cfg["expiry_days"]["timestamp"] = -1  # the timestamp a freezing mirror would keep serving
    (reg.dir / "registry.json").write_text(json.dumps(cfg))
    reg.repo().refresh()
    with pytest.raises(TrustError, match=r"expired.*extism-registry refresh"):
        RegistryClient(str(reg.dir), tmp_path / "cache").fetch("greeter", "0.1.0")
    assert cached_blobs(tmp_path / "cache") == []


def test_scope_role_signed_by_another_scopes_key(reg: Reg, tmp_path: Path) -> None:
    path = _role_file(reg, "scope-beta")
    md = Metadata.from_bytes(path.read_bytes())
    md.sign(KeyStore(reg.keys).signer("scope-acme"))  # acme's key holder rewrites beta's role
    path.write_bytes(md.to_bytes(SERIALIZER))
    with pytest.raises(TrustError, match=r"scope-beta.*not signed by the keys its delegator names"):
        RegistryClient(str(reg.dir), tmp_path / "cache").fetch("@beta/tool", "1.0.0")
    assert cached_blobs(tmp_path / "cache") == []


def test_a_scope_cannot_claim_another_scopes_packages(reg: Reg, tmp_path: Path) -> None:
    # acme's role lists a target under index/beta/: clients never ask acme about beta's paths
    src = _index_file(reg, "@acme/weather")
    evil = reg.dir / "index" / "beta" / src.name.replace("weather", "evil")
    shutil.copy(src, evil)
    repo = reg.repo()
    with repo.transaction():
        repo._set_target("acme", "index/beta/evil.json", src.read_bytes())  # noqa: SLF001 - forging on purpose
    with pytest.raises(NotFoundError, match="no plugin named '@beta/evil'"):
        RegistryClient(str(reg.dir), tmp_path / "cache").versions("@beta/evil")


def test_root_rotation_signed_only_by_the_new_key(reg: Reg, tmp_path: Path) -> None:
    from securesystemslib.signer import CryptoSigner

    cache = tmp_path / "cache"
    RegistryClient(str(reg.dir), cache).versions("greeter")  # trusts root v1
    root = reg.repo().root()
    attacker = CryptoSigner.generate_ed25519()
    for kid in list(root.signed.roles["root"].keyids):
        root.signed.revoke_key(kid, "root")
    root.signed.add_key(attacker.public_key, "root")
    root.signed.version += 1
    root.sign(attacker)  # not signed by the old root key
    (reg.dir / "metadata" / "2.root.json").write_bytes(root.to_bytes(SERIALIZER))
    with pytest.raises(TrustError, match=r"metadata/2\.root\.json: root was signed by 0/1 keys"):
        RegistryClient(str(reg.dir), cache).fetch("greeter", "0.1.0")
    assert cached_blobs(cache) == []
