"""The writing side of a registry: init, publish, yank/deprecate, scopes and authors, key rotation, refresh.

Every change is one transaction under a file lock: new immutable files first (blobs, index files,
versioned role metadata), then `snapshot`, then `timestamp.json` last, each written atomically. A reader
(or a CDN sync half-way through) therefore always sees either the old or the new registry state.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from plugin_format import signing
from plugin_format.artifact import locate, sha256_hex, verify_bytes
from plugin_format.errors import (
    ExtismPlatformError,
    ModuleError,
    PublishError,
    PublishScanError,
    RegistryError,
    RegistryLayoutError,
    SemverError,
    TrustError,
    VerifyError,
)
from plugin_format.files import atomic_write
from plugin_format.permissions import PermissionDiff, PermissionSet
from plugin_format.permissions import diff as permission_diff
from plugin_format.private_keys import private_key_kind
from plugin_format.scan import ScanLimits, scan_module
from plugin_format.semver import Range, Version
from registry_static.advisories import Advisory, AdvisoryFile, check_advisory
from registry_static.index import BlobRef, IndexFile, ScopePolicy, VersionEntry
from registry_static.keys import KeyStore, default_key_dir
from registry_static.layout import (
    LOCK_NAME,
    REGISTRY_JSON,
    REGISTRY_SCHEMA,
    UNSCOPED,
    UNSCOPED_ROLE,
    advisories_path,
    blob_path,
    consistent_path,
    index_path,
    normalize_scope,
    policy_path,
    role_name,
    scope_label,
    scope_paths,
    split_name,
    write_new,
)

DEFAULT_TITLE = "Extism plugins"  # the site's title until registry.json names one

SERIALIZER = JSONSerializer(compact=True)
TOP_ROLES = ("root", "targets", "snapshot", "timestamp")
DEFAULT_EXPIRY_DAYS = {"root": 365, "targets": 365, "scope": 365, "snapshot": 30, "timestamp": 7}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Published:
    """One version that `publish` added."""

    name: str
    version: str
    wasm_sha256: str
    key_id: str
    index_path: str
    #: what the scan noticed without refusing (e.g. an HTTP import with no hosts declared)
    warnings: tuple[str, ...] = ()
    #: what it asks for compared with the previous version (as recorded in the index), None for a first one
    permissions_diff: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "wasm_sha256": self.wasm_sha256,
            "key_id": self.key_id,
            "index": self.index_path,
            "warnings": list(self.warnings),
            "permissions_diff": self.permissions_diff,
        }

    def permission_lines(self) -> list[str]:
        """`+ hosts: x`, … against the previous version (empty when nothing changed or it is the first)."""
        return PermissionDiff.from_dict(self.permissions_diff).lines() if self.permissions_diff else []


@dataclass(frozen=True)
class ArtifactBytes:
    """The three build files of one version (and an optional README), in memory."""

    wasm: bytes
    plugin_json: bytes
    sig: bytes
    readme: bytes | None = None
    where: str = "artifact"  # how errors name it, e.g. dist/acme-weather-1.2.0


@dataclass
class _Txn:
    """Pending changes of one transaction."""

    roles: dict[str, Metadata[Targets]] = field(default_factory=dict)  # role name → modified copy
    files: dict[Path, bytes] = field(default_factory=dict)  # new immutable files (blobs, targets)
    new_root: Metadata[Root] | None = None
    root_signers: list[CryptoSigner] = field(default_factory=list)
    resign: set[str] = field(default_factory=set)
    new_roles: set[str] = field(default_factory=set)  # created in this transaction: keep version 1


class Repository:
    """A registry directory plus its key directory."""

    def __init__(self, directory: Path, keys_dir: Path | None = None, *, fsync: bool = True) -> None:
        self.dir = Path(directory)
        self.keys = KeyStore(keys_dir or default_key_dir(self.dir))
        self.fsync = fsync
        self._txn: _Txn | None = None
        self._pending_signers: dict[str, CryptoSigner] = {}  # new keys of a rotation in progress
        self._cache: dict[str, Metadata[Any]] = {}
        if not (self.dir / REGISTRY_JSON).is_file() or not (self.dir / "metadata" / "timestamp.json").is_file():
            raise RegistryLayoutError(
                f"{self.dir}: not a registry (no {REGISTRY_JSON} / metadata/timestamp.json); "
                "create one with `extism-registry init DIR`"
            )
        self.config = self._read_config()

    # ---------------------------------------------------------------- creation

    @classmethod
    def init(
        cls,
        directory: Path,
        keys_dir: Path | None = None,
        *,
        name: str | None = None,
        expiry_days: dict[str, int] | None = None,
        fsync: bool = True,
    ) -> Repository:
        """Create keys, root/targets/snapshot/timestamp metadata and the unscoped role in an empty directory."""
        directory = Path(directory)
        if directory.exists() and any(directory.iterdir()):
            raise RegistryLayoutError(f"{directory}: not empty; `init` creates a registry in a new or empty directory")
        keys = KeyStore(keys_dir or default_key_dir(directory))
        try:
            if keys.dir.resolve().is_relative_to(directory.resolve()):
                raise RegistryLayoutError(
                    f"{keys.dir}: the key directory must be outside the served registry directory {directory}"
                )
        except OSError:
            pass
        for role in (*TOP_ROLES, UNSCOPED_ROLE):
            if keys.has(role):
                raise RegistryLayoutError(
                    f"{keys.path(role)}: already exists; use another --keys directory or remove the old keys first"
                )
        expiry = {**DEFAULT_EXPIRY_DAYS, **(expiry_days or {})}
        signers = {role: keys.generate(role) for role in (*TOP_ROLES, UNSCOPED_ROLE)}
        now = utcnow()

        def exp(kind: str) -> datetime:
            return now + timedelta(days=expiry[kind])

        root = Root(expires=exp("root"), consistent_snapshot=True)
        for role in TOP_ROLES:
            root.add_key(signers[role].public_key, role)
        targets = Targets(expires=exp("targets"))
        unscoped_key = signers[UNSCOPED_ROLE].public_key
        targets.delegations = Delegations(
            keys={unscoped_key.keyid: unscoped_key},
            roles={
                UNSCOPED_ROLE: DelegatedRole(UNSCOPED_ROLE, [unscoped_key.keyid], 1, True, paths=scope_paths(UNSCOPED))
            },
        )
        policy = ScopePolicy(UNSCOPED).to_bytes()
        unscoped = Targets(expires=exp("scope"))
        unscoped.targets[policy_path(UNSCOPED)] = TargetFile.from_data(policy_path(UNSCOPED), policy)
        snapshot = Snapshot(expires=exp("snapshot"))
        snapshot.meta = {"targets.json": MetaFile(1), f"{UNSCOPED_ROLE}.json": MetaFile(1)}
        md = {
            role: Metadata(signed)
            for role, signed in (
                ("root", root),
                ("targets", targets),
                ("snapshot", snapshot),
                (UNSCOPED_ROLE, unscoped),
            )
        }
        for role, m in md.items():
            m.sign(signers[role])
        meta_dir = directory / "metadata"
        write_new(directory / consistent_path(policy_path(UNSCOPED), sha256_hex(policy)), policy, fsync=fsync)
        for role in (UNSCOPED_ROLE, "targets", "snapshot"):
            write_new(meta_dir / f"1.{role}.json", md[role].to_bytes(SERIALIZER), fsync=fsync)
        root_bytes = md["root"].to_bytes(SERIALIZER)
        write_new(meta_dir / "1.root.json", root_bytes, fsync=fsync)
        atomic_write(meta_dir / "root.json", root_bytes, fsync=fsync)
        snap_bytes = md["snapshot"].to_bytes(SERIALIZER)
        ts = Metadata(
            Timestamp(
                expires=exp("timestamp"), snapshot_meta=MetaFile(1, len(snap_bytes), {"sha256": sha256_hex(snap_bytes)})
            )
        )
        ts.sign(signers["timestamp"])
        atomic_write(
            directory / REGISTRY_JSON,
            json.dumps(
                {
                    "schema": REGISTRY_SCHEMA,
                    "name": name or directory.resolve().name,
                    "title": name or "",
                    "created": _iso(now),
                    "expiry_days": expiry,
                    "featured": [],
                },
                indent=2,
            ).encode()
            + b"\n",
            fsync=fsync,
        )
        atomic_write(meta_dir / "timestamp.json", ts.to_bytes(SERIALIZER), fsync=fsync)
        return cls(directory, keys.dir, fsync=fsync)

    # ---------------------------------------------------------------- reading

    def _read_config(self) -> dict[str, Any]:
        path = self.dir / REGISTRY_JSON
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryLayoutError(f"{path}: unreadable ({exc})") from None
        if doc.get("schema") != REGISTRY_SCHEMA:
            raise RegistryLayoutError(f"{path}: schema should be {REGISTRY_SCHEMA!r}")
        doc["expiry_days"] = {**DEFAULT_EXPIRY_DAYS, **(doc.get("expiry_days") or {})}
        return doc

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.dir.name)

    @property
    def scan_limits(self) -> ScanLimits:
        """registry.json `scan:` (max_wasm_bytes, max_memory_mib), defaults filled in."""
        try:
            return ScanLimits.from_config(self.config.get("scan"), str(self.dir / REGISTRY_JSON))
        except ModuleError as exc:
            raise RegistryLayoutError(str(exc)) from None

    @property
    def title(self) -> str:
        """The site's title: registry.json `title` (`init --name`, `config --title`), never the directory's name."""
        title = self.config.get("title")
        if title:
            return str(title)
        name = self.config.get("name")
        if "title" not in self.config and name and name != self.dir.resolve().name:
            return str(name)  # a registry made before `title` existed, named on purpose
        return DEFAULT_TITLE

    def set_config(self, **changes: Any) -> dict[str, Any]:
        """Change registry.json settings (`title`, `featured`) and write it atomically; returns the file's content."""
        path = self.dir / REGISTRY_JSON
        with open(self.dir / LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            doc = json.loads(path.read_text(encoding="utf-8"))
            doc.update(changes)
            atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False).encode() + b"\n", fsync=self.fsync)
        self.config = self._read_config()
        return doc

    def _load(self, rel: str) -> Metadata[Any]:
        if rel not in self._cache:
            path = self.dir / "metadata" / rel
            try:
                self._cache[rel] = Metadata.from_bytes(path.read_bytes())
            except FileNotFoundError:
                raise RegistryLayoutError(
                    f"{path}: missing (the registry is incomplete; `extism-registry verify` lists what is wrong)"
                ) from None
            except Exception as exc:  # DeserializationError and friends
                raise TrustError(f"{path}: not valid TUF metadata ({exc})") from None
        return self._cache[rel]

    def root(self) -> Metadata[Root]:
        if self._txn and self._txn.new_root:
            return self._txn.new_root
        versions = [
            int(m[1])
            for p in (self.dir / "metadata").glob("*.root.json")
            if (m := re.fullmatch(r"(\d+)\.root\.json", p.name))
        ]
        if not versions:
            raise RegistryLayoutError(f"{self.dir}/metadata: no N.root.json")
        return self._load(f"{max(versions)}.root.json")

    def timestamp(self) -> Metadata[Timestamp]:
        if self._txn is None:  # the one mutable file: re-read it, except under our own lock
            self._cache.pop("timestamp.json", None)
        return self._load("timestamp.json")

    def snapshot(self) -> Metadata[Snapshot]:
        return self._load(f"{self.timestamp().signed.snapshot_meta.version}.snapshot.json")

    def role(self, name: str) -> Metadata[Targets]:
        """The current metadata of `targets` or a delegated role (the pending copy inside a transaction)."""
        if self._txn and name in self._txn.roles:
            return self._txn.roles[name]
        meta = self.snapshot().signed.meta.get(f"{name}.json")
        if meta is None:
            raise RegistryError(f"role {name!r} is not in this registry's snapshot")
        return self._load(f"{meta.version}.{name}.json")

    def scopes(self) -> list[str]:
        """Every scope (and `_` for unscoped packages), from targets' delegations."""
        delegations = self.role("targets").signed.delegations
        out = []
        for rname, role in (delegations.roles or {}).items() if delegations else ():
            if rname == UNSCOPED_ROLE:
                out.append(UNSCOPED)
            elif rname.startswith("scope-") and role.paths:
                out.append(rname[len("scope-") :])
        return sorted(out)

    def has_scope(self, scope: str) -> bool:
        delegations = self.role("targets").signed.delegations
        return bool(delegations and delegations.roles and role_name(scope) in delegations.roles)

    def _require_scope(self, scope: str) -> None:
        if not self.has_scope(scope):
            raise RegistryError(
                f"{scope_label(scope)} is not a scope of registry {self.dir}; create it with "
                f"`extism-registry keys add-scope {self.dir} @{scope} --author AUTHOR.pub`"
            )

    def read_target(self, target_path: str, scope: str) -> bytes | None:
        """The bytes of a target of `scope`'s role, checked against its length and sha256; None if absent."""
        tf = self.role(role_name(scope)).signed.targets.get(target_path)
        if tf is None:
            return None
        path = self.dir / consistent_path(target_path, tf.hashes["sha256"])
        data = self._txn.files.get(path) if self._txn else None
        if data is None:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise TrustError(f"{path}: missing (listed in role {role_name(scope)})") from None
        try:
            tf.verify_length_and_hashes(data)
        except Exception:
            raise TrustError(f"{path}: length/sha256 differ from role {role_name(scope)} (modified?)") from None
        return data

    def index(self, name: str) -> IndexFile | None:
        scope, _ = split_name(name)
        if not self.has_scope(scope):
            return None
        data = self.read_target(index_path(name), scope)
        return IndexFile.from_bytes(data, index_path(name), name) if data is not None else None

    def policy(self, scope: str) -> ScopePolicy:
        self._require_scope(scope)
        data = self.read_target(policy_path(scope), scope)
        return ScopePolicy.from_bytes(data, policy_path(scope)) if data else ScopePolicy(scope)

    def packages(self, scope: str | None = None) -> list[str]:
        """Names of every package (of one scope), sorted."""
        out = []
        for s in [scope] if scope else self.scopes():
            for path in self.role(role_name(s)).signed.targets:
                base = path.rsplit("/", 1)[-1]
                if base.endswith(".json") and not base.startswith("_"):
                    bare = base[: -len(".json")]
                    out.append(bare if s == UNSCOPED else f"@{s}/{bare}")
        return sorted(out)

    # ---------------------------------------------------------------- transactions

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Txn]:
        """Lock the registry, collect changes, then write them in a safe order (timestamp last)."""
        if self._txn is not None:
            raise RuntimeError("nested registry transaction")
        lock_path = self.dir / LOCK_NAME
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._cache.clear()
            self._repair()
            self._txn = _Txn()
            try:
                yield self._txn
                self._commit(self._txn)
            finally:
                self._txn = None
                self._cache.clear()
                fcntl.flock(lock, fcntl.LOCK_UN)

    def leftovers(self) -> list[tuple[Path, str]]:
        """Files an interrupted transaction (kill -9, power cut) left behind, with why each is one.

        Temporary files of a write never renamed, and role or snapshot metadata newer than what
        timestamp → snapshot name: a transaction writes those before `timestamp.json`, so no client
        has ever been sent them. (A leftover `N.root.json` is not among them: clients walk roots by
        file name, so a written root is live.)"""
        out: list[tuple[Path, str]] = []
        for sub in ("metadata", "index", "blobs"):
            for p in sorted((self.dir / sub).rglob(".*.tmp")):
                out.append((p, "an unfinished write (temporary file)"))
        ts = self.timestamp().signed
        snap = self.snapshot().signed
        for p in sorted((self.dir / "metadata").glob("*.json")):
            m = re.fullmatch(r"(\d+)\.(.+)\.json", p.name)
            if m is None or m[2] == "root":
                continue
            version, role = int(m[1]), m[2]
            if role == "snapshot":
                current = ts.snapshot_meta.version
            else:
                meta = snap.meta.get(f"{role}.json")
                current = meta.version if meta else 0
            if version > current:
                out.append((p, f"newer than the version {current} that the current snapshot names"))
        return out

    def _repair(self) -> None:
        """Remove what an interrupted transaction left (see `leftovers`): the registry is then exactly
        the state its timestamp names, and this transaction can write its versions again."""
        for path, _ in self.leftovers():
            path.unlink(missing_ok=True)
        self._cache.clear()

    def _edit(self, name: str) -> Metadata[Targets]:
        assert self._txn is not None
        if name not in self._txn.roles:
            self._txn.roles[name] = copy.deepcopy(self.role(name))
        return self._txn.roles[name]

    def _set_target(self, scope: str, target_path: str, data: bytes) -> None:
        assert self._txn is not None
        md = self._edit(role_name(scope))
        tf = TargetFile.from_data(target_path, data)
        md.signed.targets[target_path] = tf
        self._txn.files[self.dir / consistent_path(target_path, tf.hashes["sha256"])] = data

    def _expires(self, kind: str) -> datetime:
        return utcnow() + timedelta(days=float(self.config["expiry_days"][kind]))

    def _signer_for(self, role: str, purpose: str) -> CryptoSigner:
        signer = self._pending_signers.get(role) or self.keys.signer(role, purpose=purpose)
        keyids = (
            self.root().signed.roles[role].keyids
            if role in TOP_ROLES
            else self.role("targets").signed.delegations.roles[role].keyids
        )
        if signer.public_key.keyid not in keyids:
            raise RegistryLayoutError(
                f"{self.keys.path(role)}: this key is not (or no longer) a key of role "
                f"{role!r} in {self.dir}; use the key directory that belongs to this registry"
            )
        return signer

    def _commit(self, txn: _Txn) -> None:
        meta_dir = self.dir / "metadata"
        if txn.new_root is not None:
            data = txn.new_root.to_bytes(SERIALIZER)
            write_new(meta_dir / f"{txn.new_root.signed.version}.root.json", data, fsync=self.fsync)
            atomic_write(meta_dir / "root.json", data, fsync=self.fsync)
        for path, data in txn.files.items():
            write_new(path, data, fsync=self.fsync)
        for name in txn.resign:
            self._edit(name)
        snap = copy.deepcopy(self.snapshot())
        # targets last among the roles: it may delegate to a role created in this transaction
        for name in sorted(txn.roles, key=lambda n: n == "targets"):
            md = txn.roles[name]
            if name not in txn.new_roles:
                md.signed.version += 1
            md.signed.expires = self._expires("targets" if name == "targets" else "scope")
            md.sign(self._signer_for(name, f"sign role {name}"))
            write_new(meta_dir / f"{md.signed.version}.{name}.json", md.to_bytes(SERIALIZER), fsync=self.fsync)
            snap.signed.meta[f"{name}.json"] = MetaFile(md.signed.version)
        snap.signed.version += 1
        snap.signed.expires = self._expires("snapshot")
        snap.sign(self._signer_for("snapshot", "sign the snapshot"))
        snap_bytes = snap.to_bytes(SERIALIZER)
        write_new(meta_dir / f"{snap.signed.version}.snapshot.json", snap_bytes, fsync=self.fsync)
        ts = copy.deepcopy(self.timestamp())
        ts.signed.version += 1
        ts.signed.expires = self._expires("timestamp")
        ts.signed.snapshot_meta = MetaFile(snap.signed.version, len(snap_bytes), {"sha256": sha256_hex(snap_bytes)})
        ts.sign(self._signer_for("timestamp", "sign the timestamp"))
        atomic_write(meta_dir / "timestamp.json", ts.to_bytes(SERIALIZER), fsync=self.fsync)

    # ---------------------------------------------------------------- publishing

    def publish(self, artifacts: list[Path], *, readme: Path | None = None) -> list[Published]:
        """Verify each artifact's author signature against its scope's authors and add it.

        `artifacts` are any of the three build files (or their stem). Refuses unsigned or wrongly signed
        artifacts, unknown scopes and versions that already exist; all or nothing."""
        items = []
        for art in artifacts:
            wasm_p, json_p, sig_p = locate(Path(art))
            files = {}
            for p in (wasm_p, json_p, sig_p):
                try:
                    files[p] = p.read_bytes()
                except OSError as exc:
                    raise PublishError(
                        f"{p}: {exc.strerror} (publish takes the .wasm, .plugin.json and .sig "
                        "that `hatch build` / `extism-plugin build` write to dist/)"
                    ) from None
            readme_p = readme or wasm_p.parent.parent / "README.md"
            readme_bytes = readme_p.read_bytes() if readme_p.is_file() else None
            items.append(
                ArtifactBytes(files[wasm_p], files[json_p], files[sig_p], readme_bytes, str(wasm_p.with_suffix("")))
            )
        return self.publish_bytes(items)

    def publish_bytes(self, items: list[ArtifactBytes]) -> list[Published]:
        """`publish` for artifacts already in memory (one transaction, all or nothing)."""
        out: list[Published] = []
        self._author_keys: dict[str, Any] = {}
        with self.transaction():
            seen: set[tuple[str, str]] = set()
            for it in items:
                out.append(self._publish_one(it, seen))
        return out

    def _publish_one(self, it: ArtifactBytes, seen: set[tuple[str, str]]) -> Published:
        wasm, pj, sig, readme, where = it.wasm, it.plugin_json, it.sig, it.readme, it.where
        try:
            stmt = signing.parse_envelope(sig, f"{where}.sig").statement
        except ExtismPlatformError as exc:
            raise PublishError(str(exc)) from None
        name, version = str(stmt.get("name")), str(stmt.get("version"))
        try:
            scope, _ = split_name(name)
            Version.parse(version)
        except (RegistryError, SemverError) as exc:
            raise PublishError(f"{where}.sig: {exc}") from None
        policy = self.policy(scope)
        keys = {}
        for kid, author in policy.authors.items():
            if kid not in self._author_keys:
                self._author_keys[kid] = signing.load_public_key(author["pem"])
            keys[kid] = self._author_keys[kid]
        if not keys:
            arg = scope if scope == UNSCOPED else "@" + scope
            kid = next(iter(signing.parse_envelope(sig).key_ids), "")
            raise PublishError(
                f"{name}: {scope_label(scope)} has no author keys yet, so nobody may publish into it; allow "
                f"the key that signed it ({kid[:16]}…) with `extism-registry keys add-author {self.dir} {arg} "
                "AUTHOR.pem.pub` (the .pub beside the signing key, e.g. ~/.config/extism-platform/signing.key.pub)"
            )
        try:
            # hashes and statement first (no key), then the one signature that names an allowed key
            verified = verify_bytes(wasm, pj, sig, keys=[], require_signature=True, where=where)
            envelope = signing.parse_envelope(sig)
            key_id = next((kid for kid in envelope.key_ids if kid in keys and envelope.verify(keys[kid])), None)
            if key_id is None:
                ids = ", ".join(k[:16] for k in envelope.key_ids)
                raise VerifyError(f"{where}.sig: no valid signature by the given key(s) (signed by key id {ids})")
        except (VerifyError, signing.SigningError) as exc:
            raise PublishError(
                f"{exc}; refusing to publish. Authors allowed in {scope_label(scope)}: "
                f"{', '.join(k[:16] for k in keys)}"
            ) from None
        if readme is not None and (kind := private_key_kind(readme)) is not None:
            # Never publish a secret as a README (plugin.yaml `readme:` once pointed at a key file).
            raise PublishError(
                f"{name}@{version}: its README is a {kind}; refusing to publish it (point readme at a README)"
            )
        report = scan_module(wasm, verified.manifest, limits=self.scan_limits, where=f"{where}.plugin.json")
        if not report.ok:
            raise PublishScanError(
                f"{where}: {name}@{version} refused by the registry's scan (nothing was written):\n  "
                + "\n  ".join(report.problems)
            )
        if (name, version) in seen:
            raise PublishError(f"{where}: {name}@{version} is given twice")
        seen.add((name, version))
        idx = self.index(name) or IndexFile(name)
        old = idx.get(version)
        if old is not None:
            raise PublishError(
                f"{name}@{version} is already published (wasm sha256 {old.wasm.sha256[:16]}…, "
                f"{old.published}); versions are immutable: bump `version` in plugin.yaml"
            )
        refs = {}
        for label, data in (("wasm", wasm), ("plugin_json", pj), ("sig", sig), ("readme", readme)):
            if data is None:
                continue
            digest = sha256_hex(data)
            assert self._txn is not None
            self._txn.files[self.dir / blob_path(digest)] = data
            refs[label] = BlobRef(digest, len(data))
        doc = verified.manifest
        requested = PermissionSet.from_manifest(doc)
        prev = idx.previous(version)
        change = None
        if prev is not None:
            change = {"against": prev.version, **permission_diff(prev.permission_set(), requested).to_dict()}
        idx.add(
            VersionEntry(
                version=version,
                published=_iso(utcnow()),
                key_id=key_id,
                wasm=refs["wasm"],
                plugin_json=refs["plugin_json"],
                sig=refs["sig"],
                readme=refs.get("readme"),
                description=str(doc.get("description", "")),
                language=str(doc.get("language", "")),
                license=str(doc.get("license", "")),
                tags=list(doc.get("tags") or []),
                exports=list(doc.get("exports") or []),
                permissions=dict(doc.get("permissions") or {}),
                dependencies=dict(doc.get("dependencies") or {}),
                wasi=requested.wasi,
                permissions_diff=change,
            )
        )
        idx.keys[key_id] = policy.authors[key_id]["pem"]
        self._set_target(scope, index_path(name), idx.to_bytes())
        return Published(name, version, verified.wasm_sha256, key_id, index_path(name), tuple(report.warnings), change)

    def _edit_versions(self, name: str, spec: str, change: Any) -> list[str]:
        with self.transaction():
            idx = self.index(name)
            if idx is None:
                raise RegistryError(f"{name}: no such plugin in {self.dir}")
            try:
                rng = Range.parse(spec)
            except SemverError as exc:
                raise RegistryError(str(exc)) from None
            hits = [e for e in idx.versions if rng.matches(e.version) or e.version == spec]
            if not hits:
                have = ", ".join(e.version for e in idx.versions)
                raise RegistryError(f"{name}: no version matches {spec!r} (published: {have})")
            for e in hits:
                change(e)
            scope, _ = split_name(name)
            self._set_target(scope, index_path(name), idx.to_bytes())
        return [e.version for e in hits]

    def yank(self, name: str, version: str, *, undo: bool = False) -> list[str]:
        """Mark versions yanked (still fetchable by exact version, never chosen by `resolve`)."""
        return self._edit_versions(name, version, lambda e: setattr(e, "yanked", not undo))

    def deprecate(self, name: str, spec: str, message: str | None) -> list[str]:
        """Attach (or with `message=None` remove) a deprecation message to the matching versions."""
        return self._edit_versions(name, spec, lambda e: setattr(e, "deprecated", message or None))

    # ---------------------------------------------------------------- advisories

    def advisories(self, scope: str) -> AdvisoryFile:
        """The scope's advisories (empty when it has none), verified against its role like an index file."""
        scope = normalize_scope(scope)
        self._require_scope(scope)
        data = self.read_target(advisories_path(scope), scope)
        return AdvisoryFile.from_bytes(data, advisories_path(scope), scope) if data else AdvisoryFile(scope)

    def add_advisory(
        self,
        name: str,
        *,
        affected: str,
        severity: str,
        summary: str,
        fixed: str | None = None,
        advisory_id: str | None = None,
        url: str | None = None,
    ) -> Advisory:
        """Publish an advisory about `name` (signed by the scope's role key: see `registry_static.advisories`)."""
        scope, _ = split_name(name)
        with self.transaction():
            if self.index(name) is None:
                raise RegistryError(f"{name}: no such plugin in {self.dir}")
            file = self.advisories(scope)
            now = utcnow()
            adv = check_advisory(
                Advisory(
                    advisory_id or file.next_id(now.year),
                    name,
                    affected.strip(),
                    severity,
                    summary.strip(),
                    _iso(now),
                    fixed,
                    url,
                )
            )
            file.add(adv)
            self._set_target(scope, advisories_path(scope), file.to_bytes())
        return adv

    def withdraw_advisory(self, advisory_id: str, scope: str | None = None) -> Advisory:
        """Mark an advisory withdrawn (kept in the file, ignored by clients). `scope`: where to look
        (default: every scope)."""
        with self.transaction():
            for s in [normalize_scope(scope)] if scope else self.scopes():
                file = self.advisories(s)
                if file.get(advisory_id) is not None:
                    adv = file.withdraw(advisory_id, _iso(utcnow()))
                    self._set_target(s, advisories_path(s), file.to_bytes())
                    return adv
            raise RegistryError(f"no advisory {advisory_id!r} in {self.dir} (see `extism-registry advisory list`)")

    # ---------------------------------------------------------------- scopes and authors

    def add_scope(self, scope: str, authors: list[tuple[str, str]] = ()) -> str:
        """Delegate `index/<scope>/*` to a new role signed by a new scope key (needs the targets key).

        `authors` are (public key PEM, label) pairs allowed to publish. Returns the role name."""
        scope = normalize_scope(scope)
        if self.has_scope(scope):
            arg = scope if scope == UNSCOPED else "@" + scope
            raise RegistryError(
                f"{scope_label(scope)} already exists in {self.dir}; allow more authors with "
                f"`extism-registry keys add-author {self.dir} {arg} AUTHOR.pem.pub`"
            )
        rname = role_name(scope)
        with self.transaction() as txn:
            self._signer_for("targets", f"delegate {scope_label(scope)}")  # fail before creating a key
            signer = self.keys.generate(rname, overwrite=False) if not self.keys.has(rname) else self.keys.signer(rname)
            targets = self._edit("targets")
            key = signer.public_key
            if targets.signed.delegations is None:
                targets.signed.delegations = Delegations(keys={}, roles={})
            targets.signed.delegations.keys[key.keyid] = key
            targets.signed.delegations.roles[rname] = DelegatedRole(
                rname, [key.keyid], 1, True, paths=scope_paths(scope)
            )
            txn.roles[rname] = Metadata(Targets(version=1, expires=self._expires("scope")))
            txn.new_roles.add(rname)
            policy = ScopePolicy(scope)
            for pem, label in authors:
                policy.authors[_author_id(pem)] = {"pem": pem, "label": label, "added": _iso(utcnow())}
            self._set_target(scope, policy_path(scope), policy.to_bytes())
        return rname

    def add_author(self, scope: str, pem: str, label: str = "") -> str:
        """Allow the Ed25519 public key `pem` to publish into `scope`; returns its key id."""
        scope = normalize_scope(scope)
        kid = _author_id(pem)
        with self.transaction():
            policy = self.policy(scope)
            policy.authors[kid] = {"pem": pem, "label": label, "added": _iso(utcnow())}
            self._set_target(scope, policy_path(scope), policy.to_bytes())
        return kid

    def remove_author(self, scope: str, key_id_prefix: str) -> str:
        """Stop a key from publishing into `scope` (versions it signed stay valid: their index keeps the key)."""
        scope = normalize_scope(scope)
        with self.transaction():
            policy = self.policy(scope)
            hits = [k for k in policy.authors if k.startswith(key_id_prefix)]
            if len(hits) != 1:
                raise RegistryError(
                    f"{scope_label(scope)}: {len(hits)} author keys start with {key_id_prefix!r} "
                    f"(authors: {', '.join(k[:16] for k in policy.authors) or 'none'})"
                )
            del policy.authors[hits[0]]
            self._set_target(scope, policy_path(scope), policy.to_bytes())
        return hits[0]

    def set_access(self, scope: str, private: bool) -> list[str]:
        """Mark `scope` private (served only with a token that may read it) or public again; returns
        the private scopes. registry.json is operator config (unsigned): `serve` and the site read it."""
        scope = normalize_scope(scope)
        self._require_scope(scope)
        with open(self.dir / LOCK_NAME, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                config = self._read_config()
                current = set(private_scopes(config))
                current = current | {scope} if private else current - {scope}
                raw = json.loads((self.dir / REGISTRY_JSON).read_text(encoding="utf-8"))
                raw["private_scopes"] = sorted(current)
                atomic_write(self.dir / REGISTRY_JSON, json.dumps(raw, indent=2).encode() + b"\n", fsync=self.fsync)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self.config = self._read_config()
        return sorted(current)

    # ---------------------------------------------------------------- keys and expiry

    def rotate(self, role: str) -> str:
        """Replace the key of `role` (root, targets, snapshot, timestamp or a scope like @acme).

        Top-level roles: a new root version signed by the old root key(s) (and the new one when rotating
        root). Scopes: targets.json re-delegates to the new key. The new key file replaces the old one
        (kept as `*.pem.oldN`) only once the new metadata is written. Returns the new key id."""
        if role in TOP_ROLES:
            rname, scope = role, None
        else:
            scope = normalize_scope(role)
            rname = role_name(scope)
            self._require_scope(scope)
        # every key the transaction will need, before anything changes
        needed = {"root"} if scope is None else {"targets", rname}
        needed |= {"snapshot", "timestamp"} | ({"targets"} if rname == "targets" else set())
        for r in sorted(needed):
            self._signer_for(r, f"rotate the key of {role}")
        signer = self.keys.generate_pending(rname)
        try:
            with self.transaction() as txn:
                self._pending_signers = {rname: signer}
                if scope is None:
                    new = copy.deepcopy(self.root())
                    for kid in list(new.signed.roles[rname].keyids):
                        new.signed.revoke_key(kid, rname)
                    new.signed.add_key(signer.public_key, rname)
                    new.signed.version += 1
                    new.signed.expires = self._expires("root")
                    new.sign(self.keys.signer("root"))
                    if rname == "root":
                        new.sign(signer, append=True)  # a new root must satisfy the old and the new root role
                    txn.new_root = new
                    if rname == "targets":
                        txn.resign.add("targets")
                else:
                    targets = self._edit("targets")
                    dr = targets.signed.delegations.roles[rname]
                    for kid in dr.keyids:
                        targets.signed.delegations.keys.pop(kid, None)
                    dr.keyids = [signer.public_key.keyid]
                    targets.signed.delegations.keys[signer.public_key.keyid] = signer.public_key
                    self._edit(rname)
        except BaseException:
            self.keys.discard(rname)
            raise
        finally:
            self._pending_signers = {}
        self.keys.promote(rname)
        return signer.public_key.keyid

    def refresh(self, *, within_days: float = 0) -> dict[str, Any]:
        """Re-sign snapshot and timestamp; also targets/scope roles expiring within `within_days` whose key is here."""
        skipped = []
        with self.transaction() as txn:
            limit = utcnow() + timedelta(days=within_days)
            for rname in ["targets", *[role_name(s) for s in self.scopes()]]:
                if self.role(rname).signed.expires <= limit:
                    if self.keys.has(rname):
                        txn.resign.add(rname)
                    else:
                        skipped.append(rname)
            resigned = sorted(txn.resign)
        ts = self.timestamp().signed
        root = self.root().signed
        warn = []
        if root.expires <= utcnow() + timedelta(days=max(within_days, 30)):
            warn.append(
                f"root expires {_iso(root.expires)}: run `extism-registry keys rotate {self.dir} root` "
                "(with the offline root key) before then"
            )
        return {
            "resigned": [*resigned, "snapshot", "timestamp"],
            "skipped_no_key": skipped,
            "timestamp_expires": _iso(ts.expires),
            "warnings": warn,
        }

    def status(self) -> dict[str, Any]:
        """Versions and expiry dates of every role; key ids (for `keys list`)."""
        root = self.root().signed
        roles = {}
        for r in TOP_ROLES:
            md = (
                self.root()
                if r == "root"
                else self.timestamp()
                if r == "timestamp"
                else self.snapshot()
                if r == "snapshot"
                else self.role("targets")
            )
            roles[r] = {
                "version": md.signed.version,
                "expires": _iso(md.signed.expires),
                "keyids": root.roles[r].keyids,
                "key_here": self.keys.has(r),
            }
        delegations = self.role("targets").signed.delegations
        for s in self.scopes():
            rname = role_name(s)
            md = self.role(rname)
            roles[rname] = {
                "version": md.signed.version,
                "expires": _iso(md.signed.expires),
                "keyids": delegations.roles[rname].keyids,
                "key_here": self.keys.has(rname),
                "authors": {k: v.get("label", "") for k, v in self.policy(s).authors.items()},
            }
        return {"registry": str(self.dir), "keys": str(self.keys.dir), "name": self.name, "roles": roles}


def private_scopes(config: dict[str, Any]) -> list[str]:
    """The scopes registry.json marks private (`private_scopes`), normalized (`acme`, `_`)."""
    return sorted({normalize_scope(str(s)) for s in config.get("private_scopes") or []})


def _author_id(pem: str) -> str:
    try:
        return signing.key_id(signing.load_public_key(pem))
    except ExtismPlatformError as exc:
        raise RegistryError(f"author key: {exc}") from None


def open_repository(directory: Path, keys_dir: Path | None = None) -> Repository:
    """Open an existing registry directory (keys default to `<dir>.keys` or $EXTISM_REGISTRY_KEYS)."""
    return Repository(directory, keys_dir)


__all__ = ["ArtifactBytes", "Published", "Repository", "open_repository"]
