"""`extism.lock` — the exact plugins a project installed, pinned by hash (format: LOCKFILE.md).

JSON, sorted keys, two-space indent, one trailing newline: the same resolution always gives the same
bytes, so a re-install that changes nothing leaves the file untouched and diffs stay small.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_format.errors import LockError, RegistryError, SemverError
from plugin_format.files import atomic_write
from plugin_format.permissions import PermissionSet
from plugin_format.semver import Range, Version
from registry_static.layout import check_name
from registry_static.project import Project
from registry_static.redact import split_credentials

LOCK_SCHEMA = "extism-platform/lock@1"
_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
_HASH_FIELDS = ("wasm_sha256", "plugin_json_sha256", "sig_sha256", "key_id")


@dataclass(frozen=True)
class LockedPlugin:
    """One installed plugin: where it came from and the hashes that pin it."""

    name: str
    version: str
    registry: str  # normalized registry URL
    wasm_sha256: str
    plugin_json_sha256: str
    sig_sha256: str
    key_id: str  # the author key (sha256 of the raw Ed25519 public key) whose signature was verified
    dependencies: dict[str, str] = field(default_factory=dict)  # name -> range, as the index declares
    #: what the locked version requests (from its verified plugin.json); None in locks written before
    #: permissions were recorded (the next install records them)
    permissions: PermissionSet | None = None

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "version": self.version,
            "registry": split_credentials(self.registry)[0],  # users commit the lock: never credentials
            "wasm_sha256": self.wasm_sha256,
            "plugin_json_sha256": self.plugin_json_sha256,
            "sig_sha256": self.sig_sha256,
            "key_id": self.key_id,
            "dependencies": dict(sorted(self.dependencies.items())),
        }
        if self.permissions is not None:
            doc["permissions"] = {"digest": self.permissions.digest, **self.permissions.to_dict()}
        return doc

    @classmethod
    def from_dict(cls, name: str, doc: Any, where: str) -> LockedPlugin:
        if not isinstance(doc, Mapping):
            raise LockError(f"{where}: expected a mapping")
        try:
            check_name(name)
            Version.parse(doc.get("version", ""))
        except RegistryError as exc:
            raise LockError(f"{where}: {exc}") from None
        if not isinstance(doc.get("registry"), str) or "://" not in doc["registry"]:
            raise LockError(f"{where}.registry: expected the registry URL")
        for key in _HASH_FIELDS:
            if not isinstance(doc.get(key), str) or not _HEX64.match(doc[key]):
                raise LockError(f"{where}.{key}: expected 64 lowercase hex digits")
        deps = doc.get("dependencies", {})
        if not isinstance(deps, Mapping) or not all(isinstance(v, str) for v in deps.values()):
            raise LockError(f"{where}.dependencies: expected a mapping of plugin name to range")
        registry = split_credentials(doc["registry"])[0]
        perms = _permissions(doc.get("permissions"), f"{where}.permissions")
        return cls(name, doc["version"], registry, *(doc[k] for k in _HASH_FIELDS), dict(deps), perms)


def _permissions(doc: Any, where: str) -> PermissionSet | None:
    """The lock's record of a plugin's requested permissions; its digest must match the readable set
    (a hand edit of one without the other would make the permission gate compare the wrong thing)."""
    if doc is None:
        return None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("digest"), str):
        raise LockError(
            f"{where}: expected {{digest, hosts, paths, config, host_functions, wasi, memory_mib, timeout_ms}}"
        )
    try:
        perms = PermissionSet.from_dict(doc)
    except (TypeError, ValueError, AttributeError):
        raise LockError(f"{where}: not a permission set") from None
    if perms.digest != doc["digest"]:
        raise LockError(
            f"{where}.digest: does not match the recorded permissions (edited by hand?); "
            "delete the entry's permissions and run `extism-plugin install`"
        )
    return perms


@dataclass(frozen=True)
class Lockfile:
    plugins: dict[str, LockedPlugin]

    def to_bytes(self) -> bytes:
        doc = {"schema": LOCK_SCHEMA, "plugins": {n: p.to_dict() for n, p in sorted(self.plugins.items())}}
        return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Lockfile:
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise LockError(f"{where}: not JSON ({exc}); delete it and run `extism-plugin install`") from None
        if not isinstance(doc, Mapping) or doc.get("schema") != LOCK_SCHEMA:
            raise LockError(f"{where}: schema must be {LOCK_SCHEMA!r} (written by another tool or version?)")
        plugins = doc.get("plugins")
        if not isinstance(plugins, Mapping):
            raise LockError(f"{where}: plugins: expected a mapping")
        name = Path(where).name
        return cls({n: LockedPlugin.from_dict(n, p, f"{name}: plugins.{n}") for n, p in plugins.items()})


def read_lock(path: Path) -> Lockfile | None:
    """The lock file, or None when there is none yet."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LockError(f"{path}: {exc.strerror}") from None
    return Lockfile.from_bytes(data, str(path))


def write_lock(path: Path, lock: Lockfile) -> bool:
    """Write atomically (temporary file + rename); False (and nothing touched) when the bytes are the same."""
    data = lock.to_bytes()
    try:
        if Path(path).read_bytes() == data:
            return False
    except OSError:
        pass
    atomic_write(Path(path), data)
    return True


def oci_differences(where: str, lock_name: str, name: str, wanted: str, entry: LockedPlugin) -> list[str]:
    """Why a locked OCI plugin is not the artifact extism.yaml names: another repository, another
    digest, or a version tag the locked version is not."""
    from registry_static.oci import OciRef

    want, got = OciRef.parse(wanted), OciRef.parse(entry.registry)
    ref = want.reference or ""
    if (want.host, want.repository) != (got.host, got.repository):
        return [f"{where} takes {name} from {want} but {lock_name} from {got}"]
    if ref.startswith("sha256:") and ref != got.reference:
        return [f"{where} pins {name} at {ref[:19]}… but {lock_name} has {got.reference}"]
    if not ref.startswith("sha256:") and ref.replace("_", "+") != entry.version:
        try:
            Version.parse(ref.replace("_", "+"))
        except SemverError:
            return []  # a moving tag (latest): the lock's digest is the pin
        return [f"{where} wants {name} {ref} but {lock_name} has {entry.version}"]
    return []


def differences(project: Project, lock: Lockfile) -> list[str]:
    """Why `lock` does not satisfy `project` (empty: it does). Used by `install --frozen` and the MCP server;
    never resolves, never reads a registry."""
    problems: list[str] = []
    lock_name = project.lock_path.name
    for name, want in sorted(project.plugins.items()):
        entry = lock.plugins.get(name)
        if entry is None:
            problems.append(f"{project.path.name} wants {name} {want.spec}, which {lock_name} does not have")
            continue
        if want.oci is not None:
            problems.extend(oci_differences(project.path.name, lock_name, name, want.oci, entry))
            continue
        if not want.range.matches(entry.version):
            hint = ""
            if Range.parse(want.spec, include_prerelease=True).matches(entry.version):
                hint = f" (a pre-release: `prerelease: true` on plugins.{name} accepts it)"
            problems.append(f"{project.path.name} wants {name} {want.spec} but {lock_name} has {entry.version}{hint}")
        url = project.registries[want.registry].url
        if entry.registry != url:
            problems.append(f"{project.path.name} takes {name} from {url} but {lock_name} from {entry.registry}")
    reachable: set[str] = set()
    todo = [n for n in project.plugins if n in lock.plugins]
    while todo:
        name = todo.pop()
        if name in reachable:
            continue
        reachable.add(name)
        for dep, spec in sorted(lock.plugins[name].dependencies.items()):
            entry = lock.plugins.get(dep)
            if entry is None:
                problems.append(f"{name} needs {dep} {spec}, which {lock_name} does not have")
                continue
            try:
                ok = Range.parse(spec).matches(entry.version)
            except SemverError:
                ok = False
            if not ok:
                problems.append(f"{name} needs {dep} {spec} but {lock_name} has {entry.version}")
            todo.append(dep)
    for name in sorted(set(lock.plugins) - reachable):
        problems.append(
            f"{lock_name} has {name} {lock.plugins[name].version}, which nothing in {project.path.name} needs"
        )
    return problems
