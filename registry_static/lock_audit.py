"""`extism-plugin audit`: is anything extism.lock pins affected by an advisory, yanked, or no longer what
was signed?

For every locked plugin, from its registry (TUF-verified index and advisories files):
- the advisories that affect the locked version, each with the fixed version and the command to get it;
- whether the version is yanked (affected) or deprecated (reported);
- the signature status of the cached artifacts, re-verified: the cached wasm, plugin.json and DSSE
  envelope must have the lock's sha256s and carry a valid signature by the lock's author key, and that
  key must be the one the registry's signed index names for the version. The cache is read as it is
  (never repaired here), so a modified cached file shows up as INVALID rather than being refetched;
- that the registry still serves the version the lock pinned (same hashes and author), and that the
  signed plugin.json asks for the permissions the lock records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_format import signing
from plugin_format.artifact import verify_bytes
from plugin_format.errors import ExtismPlatformError, IntegrityError, LockError, NotFoundError, RegistryError
from plugin_format.permissions import PermissionSet
from registry_static import cache
from registry_static.advisories import Advisory, fix_command
from registry_static.client import RegistryClient, default_cache_dir
from registry_static.install import ProjectClients, requirements
from registry_static.lockfile import LockedPlugin, Lockfile, read_lock
from registry_static.project import Project

SIG_VERIFIED = "verified"
SIG_NOT_CACHED = "not cached"
SIG_INVALID = "invalid"


@dataclass
class PluginAudit:
    """The findings about one locked plugin."""

    name: str
    version: str
    registry: str
    direct: bool
    advisories: list[tuple[Advisory, str]] = field(default_factory=list)  # (advisory, fix command)
    yanked: bool = False
    deprecated: str | None = None
    signature: str = SIG_NOT_CACHED
    signature_detail: str = ""
    key_id: str = ""
    permissions_digest: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def affected(self) -> bool:
        return bool(self.advisories or self.yanked or self.problems or self.signature == SIG_INVALID)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "registry": self.registry,
            "direct": self.direct,
            "status": "affected" if self.affected else "ok",
            "advisories": [{**a.to_dict(), "fix_command": cmd} for a, cmd in self.advisories],
            "yanked": self.yanked,
            "deprecated": self.deprecated,
            "signature": {"status": self.signature, "key_id": self.key_id, "detail": self.signature_detail},
            "permissions": {"digest": self.permissions_digest},
            "problems": list(self.problems),
        }


@dataclass
class AuditReport:
    project: str
    lock: str
    plugins: list[PluginAudit]

    @property
    def affected(self) -> list[PluginAudit]:
        return [p for p in self.plugins if p.affected]

    @property
    def ok(self) -> bool:
        return not self.affected

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "lock": self.lock,
            "ok": self.ok,
            "affected": len(self.affected),
            "plugins": [p.to_dict() for p in self.plugins],
        }


def _check_cached(client: RegistryClient, locked: LockedPlugin, key: Any, finding: PluginAudit) -> None:
    """Re-verify the cached artifact files against the lock's hashes and the author key."""
    data: dict[str, bytes] = {}
    missing = []
    try:
        for label, digest in (
            ("wasm", locked.wasm_sha256),
            ("plugin.json", locked.plugin_json_sha256),
            ("sig", locked.sig_sha256),
        ):
            try:
                data[label] = cache.read_blob(digest, f"{locked.name}@{locked.version} {label}", client.cache_dir)
            except NotFoundError:
                missing.append(label)
    except IntegrityError as exc:
        finding.signature, finding.signature_detail = SIG_INVALID, str(exc)
        return
    if missing:
        finding.signature = SIG_NOT_CACHED
        finding.signature_detail = f"{', '.join(missing)} not in the cache: run `extism-plugin install`"
        return
    try:
        verified = verify_bytes(
            data["wasm"], data["plugin.json"], data["sig"], keys=[key], require_signature=True, where=locked.name
        )
    except ExtismPlatformError as exc:
        finding.signature, finding.signature_detail = SIG_INVALID, str(exc)
        return
    finding.signature = SIG_VERIFIED
    finding.signature_detail = f"signed by author key {locked.key_id[:16]}…, the key the registry's signed index names"
    requested = PermissionSet.from_manifest(verified.manifest)
    finding.permissions_digest = requested.digest
    if locked.permissions is not None and locked.permissions.digest != requested.digest:
        finding.problems.append(
            "the signed plugin.json asks for other permissions than extism.lock records "
            "(the lock was edited?): run `extism-plugin install`"
        )


def audit_plugin(client: RegistryClient, project: Project, lock: Lockfile, locked: LockedPlugin) -> PluginAudit:
    finding = PluginAudit(locked.name, locked.version, locked.registry, locked.name in project.plugins)
    finding.key_id = locked.key_id
    finding.permissions_digest = locked.permissions.digest if locked.permissions else None
    idx = client.index(locked.name)
    entry = idx.get(locked.version)
    if entry is None:
        finding.problems.append(f"{locked.registry} no longer lists {locked.name} {locked.version}")
        return finding
    finding.yanked, finding.deprecated = entry.yanked, entry.deprecated
    served = {
        "wasm_sha256": entry.wasm.sha256,
        "plugin_json_sha256": entry.plugin_json.sha256,
        "sig_sha256": entry.sig.sha256,
        "key_id": entry.key_id,
    }
    for key, value in served.items():
        if getattr(locked, key) != value:
            finding.problems.append(
                f"the registry's signed index gives {key} {value[:16]}… for {locked.version}, "
                f"extism.lock {getattr(locked, key)[:16]}… (a published version changed)"
            )
    for adv in client.advisories(locked.name):
        if adv.affects(locked.version):
            finding.advisories.append(
                (adv, fix_command(locked.name, adv, requirements(project, lock.plugins, locked.name)))
            )
    pem = idx.keys.get(locked.key_id)
    if pem is None:
        finding.signature = SIG_INVALID
        finding.signature_detail = f"the registry's signed index names no key {locked.key_id[:16]}…"
        return finding
    try:
        key = signing.load_public_key(pem)
    except ExtismPlatformError as exc:
        finding.signature, finding.signature_detail = SIG_INVALID, str(exc)
        return finding
    if signing.key_id(key) != locked.key_id:
        finding.signature, finding.signature_detail = SIG_INVALID, "the index's key does not match its key id"
        return finding
    _check_cached(client, locked, key, finding)
    return finding


def audit_project(project: Project, *, cache_dir: Path | None = None) -> AuditReport:
    """Audit every plugin extism.lock pins (the lock is required: audit checks what is installed)."""
    lock = read_lock(project.lock_path)
    if lock is None:
        raise LockError(
            f"{project.lock_path}: not found; `extism-plugin audit` checks what it pins (run install first)"
        )
    clients = ProjectClients(project, Path(cache_dir) if cache_dir else default_cache_dir())
    plugins = []
    for name, locked in sorted(lock.plugins.items()):
        try:
            plugins.append(audit_plugin(clients(locked.registry), project, lock, locked))
        except RegistryError as exc:
            # a registry that fails verification is itself a finding: nothing it says can be trusted
            finding = PluginAudit(name, locked.version, locked.registry, name in project.plugins)
            finding.problems.append(str(exc))
            plugins.append(finding)
    return AuditReport(str(project.path), str(project.lock_path), plugins)


def report_lines(report: AuditReport) -> list[str]:
    """The text form of `extism-plugin audit`."""
    lines = []
    for p in report.plugins:
        lines.append(f"{p.name} {p.version}  {'AFFECTED' if p.affected else 'ok'}")
        for adv, cmd in p.advisories:
            lines.append(f"  advisory {adv.id} ({adv.severity}): {adv.summary}" + (f" <{adv.url}>" if adv.url else ""))
            lines.append(f"    affected {adv.affected}; " + (f"fixed in {adv.fixed}: {cmd}" if adv.fixed else cmd))
        if p.yanked:
            lines.append(f"  yanked: move off it with `extism-plugin update {p.name}`")
        if p.deprecated:
            lines.append(f"  deprecated: {p.deprecated}")
        lines.append(f"  signature: {p.signature}" + (f" ({p.signature_detail})" if p.signature_detail else ""))
        lines += [f"  problem: {problem}" for problem in p.problems]
    n = len(report.affected)
    lines.append(
        f"{n} of {len(report.plugins)} locked plugin(s) affected"
        if n
        else f"{len(report.plugins)} locked plugin(s), none affected"
    )
    return lines
