"""Lifecycle hooks: the exports plugin.yaml names under `hooks:`, run by the package manager.

A hook is never a shell script: it is an export of the plugin's own verified wasm, run on the one
Host (`host/runtime.py`) in the sandbox, with the plugin's *granted* permissions only (plugin.yaml's
request ∩ extism.yaml's `grants:`), its own kv namespace (so it can migrate its state) and its
timeout. Its input is JSON:

    {"hook": "on_update", "plugin": "@acme/notes", "old_version": "1.0.0", "new_version": "2.0.0"}

(`old_version` is null for `on_install`, `new_version` null for `on_uninstall`). A hook succeeds by
returning 0; anything else (an error, a trap, a denial, a timeout) fails the command.

`run_lifecycle` runs every hook of one command on a staged kv store (`host.kv.StagedKV`): only
when all of them succeeded are their kv writes committed, and the caller writes extism.lock after
that; on a failure nothing is committed and `HookError` (one line, naming the plugin and the hook)
leaves the previous install — lock, cache entries, kv data — in place. The kv writes commit in
one transaction, then extism.lock is written; a crash between the two leaves the migrated data
with the old lock, and the next install runs the hook again: write hooks so that running one on
data it already migrated changes nothing. The install side
(`registry_static`) cannot import the run side; the CLI calls this around it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extism_platform.audit import AuditLog
from extism_platform.grants import Grant
from extism_platform.host import sources
from extism_platform.host.kv import KV, KV_ENV, StagedKV, open_kv
from extism_platform.host.runtime import Artifact, Host
from plugin_format.errors import LoadError, PluginCallError, RunError
from registry_static.client import FetchedPlugin
from registry_static.install import Installation
from registry_static.lockfile import LockedPlugin, Lockfile
from registry_static.project import Project

HOOKS = ("on_install", "on_update", "on_uninstall")


class HookError(RunError):
    """A lifecycle hook failed; the command changed nothing."""


@dataclass(frozen=True)
class Transition:
    """One plugin's change in a command, and the build whose hook runs: the new one for
    `on_install`/`on_update` (it knows the old layout it migrates from), the old one for
    `on_uninstall`."""

    name: str
    hook: str
    old_version: str | None
    new_version: str | None
    artifact: Artifact

    @property
    def export(self) -> str | None:
        return self.artifact.info.hooks.get(self.hook)

    def input(self) -> bytes:
        doc = {"hook": self.hook, "plugin": self.name, "old_version": self.old_version, "new_version": self.new_version}
        return json.dumps(doc, sort_keys=True).encode()


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


def plan_lifecycle(
    old: Lockfile | None,
    new: Lockfile,
    *,
    fetched: Mapping[str, FetchedPlugin] | None = None,
    lock_name: str = "extism.lock",
    cache_dir: Path | None = None,
) -> list[Transition]:
    """The hooks a change of extism.lock from `old` to `new` runs, by plugin name: `on_install`
    for a plugin new to the lock, `on_update` for another version (or other bytes), `on_uninstall`
    for one that leaves it. A build comes from `fetched` (what an install just fetched and
    verified) or else the cache, verified again, and, when it declares hooks, linked with its
    dependencies of the same lock. Builds are read only for plugins that change."""
    fetched = fetched or {}
    olds = old.plugins if old is not None else {}
    loaded: dict[tuple[str, str], Artifact] = {}

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

    out: list[Transition] = []
    for name in sorted(set(olds) | set(new.plugins)):
        was, now = olds.get(name), new.plugins.get(name)
        if was is not None and now is not None:
            if (was.version, was.wasm_sha256) == (now.version, now.wasm_sha256):
                continue
            out.append(Transition(name, "on_update", was.version, now.version, build(now, new.plugins)))
        elif now is not None:
            out.append(Transition(name, "on_install", None, now.version, build(now, new.plugins)))
        elif was is not None:
            out.append(Transition(name, "on_uninstall", was.version, None, build(was, olds)))
    return out


def run_lifecycle(
    changes: Iterable[Transition],
    *,
    grants: dict[str, Grant],
    kv: KV,
    audit: AuditLog | None = None,
    what: str = "the previous install",
) -> list[HookRun]:
    """Run the hook of every change whose plugin declares one, in name order, on the Host; commit
    their kv writes to `kv` only if all succeed. Raises `HookError` (nothing committed) on the
    first failure; `what` names what is left in place, for its message."""
    staged = StagedKV(kv)
    runs: list[HookRun] = []
    for change in changes:
        export, artifact = change.export, change.artifact
        if export is None:
            continue
        host = Host(grants=grants, audit=audit, kv=staged)
        try:
            host.add(artifact)
            result = host.call(artifact.info.name, export, change.input(), context={"tool": f"hook:{change.hook}"})
        except (PluginCallError, RunError) as exc:
            staged.discard()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "failed"
            raise HookError(
                f"plugin {change.name} {artifact.info.version}: lifecycle hook {change.hook} (export {export}) "
                f"failed: {first}; nothing was changed ({what} and the plugin's kv data are as before)"
            ) from None
        runs.append(
            HookRun(change.name, change.hook, export, change.old_version, change.new_version, result.duration_ms)
        )
    staged.commit()
    return runs


def kv_for(state_dir: Path | None, project: Project | None = None) -> KV:
    """The kv store `extism-mcp-server --project` uses with the same `--state-dir`:
    `$EXTISM_KV_URL`, else extism.yaml's `kv:`, else the SQLite file in the state directory."""
    import os

    from plugin_format.paths import default_kv_path

    url = os.environ.get(KV_ENV) or (getattr(project, "kv", None) if project is not None else None)
    return open_kv(url, (state_dir / "kv.sqlite3") if state_dir else default_kv_path())


def run_lock_change(
    project: Project,
    old: Lockfile | None,
    new: Lockfile,
    *,
    fetched: Mapping[str, FetchedPlugin] | None = None,
    cache_dir: Path | None = None,
    state_dir: Path | None = None,
) -> list[HookRun]:
    """The one call a package-manager command makes before it writes extism.lock: plan the hooks
    of `old` → `new` and run them with the project's grants, on the kv store and audit log the MCP
    server uses for the same `state_dir`. Raises `HookError` when one fails (then write nothing)."""
    lock_name = project.lock_path.name
    plan = [t for t in plan_lifecycle(old, new, fetched=fetched, lock_name=lock_name, cache_dir=cache_dir) if t.export]
    if not plan:
        return []
    from extism_platform.audit import load_key
    from extism_platform.grants import grants_from_project
    from plugin_format.paths import default_audit_log

    grants = grants_from_project(project.grants, project.path.name)
    kv = kv_for(state_dir, project)
    audit = AuditLog(default_audit_log(), key=load_key((state_dir / "audit.key") if state_dir else None, create=True))
    try:
        return run_lifecycle(plan, grants=grants, kv=kv, audit=audit, what=lock_name)
    finally:
        kv.close()
        audit.close()


def run_install_hooks(installation: Installation, *, state_dir: Path | None = None) -> list[HookRun]:
    """`run_lock_change` for an `install`/`add` result, before `installation.write()`."""
    project = installation.project
    old = Lockfile.from_bytes(installation.previous, str(project.lock_path)) if installation.previous else None
    fetched = {p.locked.name: p.fetched for p in installation.plugins}
    return run_lock_change(
        project, old, installation.lock, fetched=fetched, cache_dir=installation.cache_dir, state_dir=state_dir
    )
