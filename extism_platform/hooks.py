"""Lifecycle hooks: the exports plugin.yaml names under `hooks:`, run by the package manager.

A hook is never a shell script: it is an export of the plugin's own verified wasm, run on the one
Host (`host/runtime.py`) in the sandbox, with the plugin's *granted* permissions only (plugin.yaml's
request ∩ extism.yaml's `grants:`), its own kv namespace (so it can migrate its state) and its
timeout. Its input is JSON:

    {"hook": "on_update", "plugin": "@acme/notes", "old_version": "1.0.0", "new_version": "2.0.0"}

(`old_version` is null for `on_install`, `new_version` null for `on_uninstall`). A hook succeeds by
returning 0; anything else (an error, a trap, a denial, a timeout) fails the command.

Installed *where*: a hook changes a kv store, so the kv store records what it holds. Beside the
plugins' data, in a namespace no plugin can name (`RECORDS`), one install record per plugin
namespace (signer + name): the version and build that plugin's data in this store was last brought
to. Hooks are planned from these records to the new extism.lock, never from the old lock: a plugin
of the lock with no record here is installed (`on_install` — so also by `install --frozen` on a new
machine, or with a fresh `--state-dir`), one whose record names another version or build is updated
from the record's version (`on_update`: a lock pulled from git that moved 1.0 → 2.0 while this store
was at 1.0 still migrates), one that leaves extism.lock while it has a record is uninstalled
(`on_uninstall`), and nothing runs when the record matches. Every plugin gets a record, with hooks
or without (a later version may declare one and must know what it migrates from). Records follow
the store: replicas sharing a Redis store share them, two state directories each have their own.

`run_lifecycle` runs the hooks of one command on a staged kv store (`host.kv.StagedKV`), then
commits their kv writes *and* the new records in one transaction (`KV.apply`), provided the records
it planned from are still what it read (another command meanwhile: `HookError`, nothing written);
the caller writes extism.lock after that. So each hook's effect happens exactly once per store: on
a failure nothing is committed and `HookError` (one line, naming the plugin and the hook) leaves
the previous install — lock, cache entries, kv data and records — in place; a crash before the
commit left nothing, so the next command runs the hooks again, once; a crash after it left records
at the new versions beside the old lock, so the next command finds the hooks applied (it says so)
and only writes extism.lock. The install side (`registry_static`) cannot import the run side; the
CLI calls this around it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extism_platform.audit import AuditLog
from extism_platform.grants import Grant
from extism_platform.host import sources
from extism_platform.host.kv import KV, KVConflictError, StagedKV, choose_kv_url, open_kv
from extism_platform.host.runtime import Artifact, Host, kv_namespace
from plugin_format import faults
from plugin_format.errors import LoadError, PluginCallError, RunError
from registry_static.client import FetchedPlugin
from registry_static.install import Installation
from registry_static.lockfile import LockedPlugin, Lockfile
from registry_static.project import Project

HOOKS = ("on_install", "on_update", "on_uninstall")
#: the kv namespace of the install records: no plugin's (those are `key:<id>/<name>` or `unsigned/<name>`)
RECORDS = "extism:installed"
RECORD_SCHEMA = "extism-platform/installed@1"


class HookError(RunError):
    """A lifecycle hook failed (or another command changed the store meanwhile); the command changed nothing."""


def lock_namespace(entry: LockedPlugin) -> str:
    """The kv namespace a locked plugin's data lives in (its build is verified against `key_id`)."""
    return kv_namespace(entry.name, entry.key_id)


@dataclass(frozen=True)
class InstallRecord:
    """What a kv store holds of one plugin: the version and build its data was last brought to, and
    the hook that brought it there (None: the build declared none)."""

    plugin: str
    version: str
    wasm_sha256: str
    hook: str | None = None
    old_version: str | None = None

    def is_build(self, entry: LockedPlugin) -> bool:
        return (self.version, self.wasm_sha256) == (entry.version, entry.wasm_sha256)

    def to_bytes(self) -> bytes:
        doc = {
            "schema": RECORD_SCHEMA,
            "plugin": self.plugin,
            "version": self.version,
            "wasm_sha256": self.wasm_sha256,
            "hook": self.hook,
            "old_version": self.old_version,
        }
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, where: str) -> InstallRecord:
        try:
            doc = json.loads(raw)
            return cls(
                str(doc["plugin"]),
                str(doc["version"]),
                str(doc["wasm_sha256"]),
                doc.get("hook"),
                doc.get("old_version"),
            )
        except (ValueError, KeyError, TypeError):
            raise HookError(
                f"{where}: its install record is unreadable (written by another tool?); nothing was changed"
            ) from None


@dataclass(frozen=True)
class Transition:
    """One plugin's change in a command, and the build whose hook runs: the new one for
    `on_install`/`on_update` (it knows the old layout it migrates from), the old one for
    `on_uninstall`. `entry` is that build's lock entry; `old_version` the version the store's
    record names (None: no record)."""

    name: str
    hook: str
    old_version: str | None
    new_version: str | None
    artifact: Artifact
    entry: LockedPlugin

    @property
    def export(self) -> str | None:
        return self.artifact.info.hooks.get(self.hook)

    @property
    def namespace(self) -> str:
        return lock_namespace(self.entry)

    def input(self) -> bytes:
        doc = {"hook": self.hook, "plugin": self.name, "old_version": self.old_version, "new_version": self.new_version}
        return json.dumps(doc, sort_keys=True).encode()

    def record(self) -> bytes | None:
        """The store's install record once this change is committed (None: removed)."""
        if self.new_version is None:
            return None
        e = self.entry
        return InstallRecord(
            self.name, e.version, e.wasm_sha256, self.hook if self.export else None, self.old_version
        ).to_bytes()


@dataclass(frozen=True)
class HookRun:
    plugin: str
    hook: str
    export: str
    old_version: str | None
    new_version: str | None
    ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "hook": self.hook,
            "export": self.export,
            "old_version": self.old_version,
            "new_version": self.new_version,
            "ms": round(self.ms, 3),
        }


@dataclass
class Plan:
    """The changes a command makes to a kv store, planned from its install records (`read`: every
    record consulted, namespace → raw value or None; a changed plugin's must be unchanged when
    committing)."""

    changes: list[Transition]
    read: dict[str, bytes | None]
    #: lock entries whose change an earlier command already applied here (it stopped before writing the lock)
    already: list[LockedPlugin] = field(default_factory=list)


@dataclass
class Lifecycle:
    """What a command's lifecycle step did: the hooks it ran, and the changes it found applied."""

    runs: list[HookRun] = field(default_factory=list)
    already: list[LockedPlugin] = field(default_factory=list)
    lock_name: str = "extism.lock"

    def lines(self) -> list[str]:
        out = [f"hook {h.plugin} {h.hook} ({h.export}) ok" for h in self.runs]
        out += [
            f"{e.name} {e.version}: already installed in this kv store (an earlier command ran its hooks and "
            f"stopped before writing {self.lock_name}); not run again"
            for e in self.already
        ]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "hooks": [h.to_dict() for h in self.runs],
            "hooks_already_applied": [{"plugin": e.name, "version": e.version} for e in self.already],
        }


def plan_lifecycle(
    old: Lockfile | None,
    new: Lockfile,
    kv: KV,
    *,
    only: Collection[str] | None = None,
    fetched: Mapping[str, FetchedPlugin] | None = None,
    lock_name: str = "extism.lock",
    cache_dir: Path | None = None,
) -> Plan:
    """What bringing `kv` from its install records to `new` takes, by plugin name (`only`: just
    these names): `on_install` for a plugin of `new` the store has no record of, `on_update` when
    the record names another version or bytes, `on_uninstall` for a plugin of `old` that leaves
    `new` and has a record (see the module docstring). A build comes from `fetched` (what an
    install just fetched and verified) or else the cache, verified again, and, when it declares
    hooks, linked with its dependencies of the same lock. Builds are read only for plugins that
    change."""
    fetched = fetched or {}
    olds = old.plugins if old is not None else {}
    loaded: dict[tuple[str, str], Artifact] = {}
    read: dict[str, bytes | None] = {}

    def record(entry: LockedPlugin) -> InstallRecord | None:
        ns = lock_namespace(entry)
        if ns not in read:
            read[ns] = kv.get(RECORDS, ns.encode())
        raw = read[ns]
        return InstallRecord.from_bytes(raw, f"kv store: {entry.name}") if raw is not None else None

    def build(entry: LockedPlugin, side: Mapping[str, LockedPlugin]) -> Artifact:
        key = (entry.name, entry.wasm_sha256)
        if key not in loaded:
            got = fetched.get(entry.name)
            if got is not None and got.info.sha256 == entry.wasm_sha256:
                art = sources.from_fetched(got, entry.registry)
            else:
                art = sources.locked_artifact(entry, lock_name, cache_dir=cache_dir)

            def pick(name: str, spec: str, wanting: Artifact) -> Artifact:
                if name not in side:
                    raise LoadError(f"{lock_name}: {wanting.info.name} needs {name} {spec}, which is not installed")
                return build(side[name], side)

            # linked (and so its dependencies read and verified) only when it has a hook to run
            loaded[key] = sources.link(art, pick) if art.info.hooks else art
        return loaded[key]

    plan = Plan([], read)
    for name in sorted(set(olds) | set(new.plugins)):
        if only is not None and name not in only:
            continue
        was, now = olds.get(name), new.plugins.get(name)
        if now is not None:
            here = record(now)
            if here is None:
                plan.changes.append(Transition(name, "on_install", None, now.version, build(now, new.plugins), now))
            elif not here.is_build(now):
                art = build(now, new.plugins)
                plan.changes.append(Transition(name, "on_update", here.version, now.version, art, now))
            elif was is None or (was.version, was.wasm_sha256) != (now.version, now.wasm_sha256):
                plan.already.append(now)
        elif was is not None:
            here = record(was)
            if here is not None:
                plan.changes.append(Transition(name, "on_uninstall", here.version, None, build(was, olds), was))
    return plan


def run_lifecycle(
    plan: Plan,
    *,
    grants: dict[str, Grant],
    kv: KV,
    audit: AuditLog | None = None,
    what: str = "the previous install",
) -> list[HookRun]:
    """Run the hook of every change whose plugin declares one, in name order, on the Host; commit
    their kv writes and the changes' install records to `kv` in one transaction, only if all
    succeed and the changed plugins' records are still what `plan` read. Raises `HookError` (nothing committed) on
    the first failure; `what` names what is left in place, for its message."""
    if not plan.changes:
        return []
    staged = StagedKV(kv)
    runs: list[HookRun] = []
    left = f"nothing was changed ({what} and the plugin's kv data are as before)"
    for change in plan.changes:
        export, artifact = change.export, change.artifact
        if export is not None:
            host = Host(grants=grants, audit=audit, kv=staged)
            try:
                host.add(artifact)
                result = host.call(artifact.info.name, export, change.input(), context={"tool": f"hook:{change.hook}"})
            except (PluginCallError, RunError) as exc:
                staged.discard()
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else "failed"
                raise HookError(
                    f"plugin {change.name} {artifact.info.version}: lifecycle hook {change.hook} (export {export}) "
                    f"failed: {first}; {left}"
                ) from None
            runs.append(
                HookRun(change.name, change.hook, export, change.old_version, change.new_version, result.duration_ms)
            )
        rec = change.record()
        if rec is None:
            staged.delete(RECORDS, change.namespace.encode())
        else:
            staged.set(RECORDS, change.namespace.encode(), rec)
    faults.point("hooks-ran")  # crash tests only: the hooks ran, nothing is committed
    try:
        # each changed plugin's record must be as planned from; an unchanged one may move meanwhile (the
        # other command's record is then right, and the next command plans from it)
        staged.commit(expect=[(RECORDS, c.namespace.encode(), plan.read[c.namespace]) for c in plan.changes])
    except KVConflictError:
        store = getattr(kv, "describe", "")
        raise HookError(
            f"kv store {store}: another command installed, updated or removed plugins in it meanwhile; {left} "
            "(run the command again)"
        ) from None
    faults.point("hooks-committed")  # crash tests only: committed, extism.lock not yet written
    return runs


def kv_for(state_dir: Path | None, project: Project | None = None, url: str | None = None) -> KV:
    """The kv store `extism-mcp-server --project` uses with the same `--state-dir` (and `--kv`):
    by the server's rule (`host.kv.choose_kv_url`), else the SQLite file in the state directory."""
    from plugin_format.paths import default_kv_path

    return open_kv(choose_kv_url(url, project), (state_dir / "kv.sqlite3") if state_dir else default_kv_path())


def run_lock_change(
    project: Project,
    old: Lockfile | None,
    new: Lockfile,
    *,
    only: Collection[str] | None = None,
    fetched: Mapping[str, FetchedPlugin] | None = None,
    cache_dir: Path | None = None,
    state_dir: Path | None = None,
    kv_url: str | None = None,
) -> Lifecycle:
    """The one call a package-manager command makes before it writes extism.lock `new`: plan the
    hooks from the kv store's install records (`only`: of these plugins; `old` names the plugins
    leaving) and run them with the project's grants, on the kv store and audit log the MCP server
    uses for the same `state_dir` and `kv_url` (its `--kv`). Raises `HookError` when one fails (then write nothing)."""
    from extism_platform.audit import load_key
    from extism_platform.grants import grants_from_project
    from plugin_format.paths import default_audit_log

    lock_name = project.lock_path.name
    kv = kv_for(state_dir, project, kv_url)
    audit = None
    try:
        plan = plan_lifecycle(old, new, kv, only=only, fetched=fetched, lock_name=lock_name, cache_dir=cache_dir)
        grants: dict[str, Grant] = {}
        if any(c.export for c in plan.changes):  # else only install records are written
            grants = grants_from_project(project.grants, project.path.name)
            audit = AuditLog(
                default_audit_log(), key=load_key((state_dir / "audit.key") if state_dir else None, create=True)
            )
        runs = run_lifecycle(plan, grants=grants, kv=kv, audit=audit, what=lock_name)
        return Lifecycle(runs, plan.already, lock_name)
    finally:
        kv.close()
        if audit is not None:
            audit.close()


def run_install_hooks(
    installation: Installation, *, state_dir: Path | None = None, kv_url: str | None = None
) -> Lifecycle:
    """`run_lock_change` for an `install`/`add`/`update` result, before `installation.write()`."""
    project = installation.project
    old = Lockfile.from_bytes(installation.previous, str(project.lock_path)) if installation.previous else None
    fetched = {p.locked.name: p.fetched for p in installation.plugins}
    return run_lock_change(
        project,
        old,
        installation.lock,
        fetched=fetched,
        cache_dir=installation.cache_dir,
        state_dir=state_dir,
        kv_url=kv_url,
    )
