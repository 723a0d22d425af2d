"""`extism-plugin outdated` and `update`: what newer versions exist, inside and outside the ranges.

For each locked plugin, as npm's `outdated`:

- current: what extism.lock pins;
- wanted: the highest non-yanked version every range that asks for it allows (extism.yaml's for a
  plugin it lists, the dependents' locked ranges for a dependency) — what `update` moves to;
- latest: the highest non-yanked release (a pre-release only when nothing else is published) —
  what `update --latest` rewrites extism.yaml's range to.

`update --latest` keeps the range's operator (`^`, `~`, exact) and the rest of extism.yaml byte for
byte, and reports every change that crosses a major version (for 0.x: a minor one), which by semver
may break.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_format.errors import LockError, SemverError
from plugin_format.files import atomic_write
from plugin_format.semver import Range, Version
from registry_static.client import Progress, VersionInfo
from registry_static.install import UPGRADE_ALL, Installation, ProjectClients, install
from registry_static.lockfile import Lockfile
from registry_static.project import DEFAULT_REGISTRY, Project, parse_project, with_plugin
from registry_static.tree import dependents, require_lock


@dataclass(frozen=True)
class Outdated:
    name: str
    current: str
    wanted: str | None
    latest: str | None
    direct: bool
    dependents: tuple[str, ...]  # "extism.yaml" or "<plugin>@<version>"
    registry: str

    @property
    def is_outdated(self) -> bool:
        cur = Version.parse(self.current)
        return any(v is not None and Version.parse(v) > cur for v in (self.wanted, self.latest))

    @property
    def major_change(self) -> bool:
        return self.latest is not None and breaks(Version.parse(self.current), Version.parse(self.latest))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "current": self.current,
            "wanted": self.wanted,
            "latest": self.latest,
            "direct": self.direct,
            "dependents": list(self.dependents),
            "registry": self.registry,
            "outdated": self.is_outdated,
            "major": self.major_change,
        }


def breaks(old: Version, new: Version) -> bool:
    """True when `new` is a semver-major change from `old` (for 0.x the minor, for 0.0.x the patch)."""
    if new <= old:
        return False
    if old.major != 0 or new.major != 0:
        return new.major != old.major
    if old.minor != 0 or new.minor != 0:
        return new.minor != old.minor
    return new.patch != old.patch


def latest_of(infos: list[VersionInfo]) -> VersionInfo | None:
    """The highest non-yanked release; a pre-release only if no release is published."""
    live = [i for i in infos if not i.yanked]
    releases = [i for i in live if not i.semver.is_prerelease]
    pool = releases or live
    return max(pool, key=lambda i: i.semver) if pool else None


def _ranges(project: Project, lock: Lockfile, name: str) -> list[tuple[str, str]]:
    out = [(project.path.name, project.plugins[name].spec)] if name in project.plugins else []
    out += [(f"{p.name}@{p.version}", spec) for p, spec in dependents(lock).get(name, [])]
    return out


def outdated(
    project: Project, *, cache_dir: Path | None = None, offline: bool = False, clients: ProjectClients | None = None
) -> list[Outdated]:
    """One row per locked plugin (up to date or not), sorted by name; reads each plugin's verified index."""
    lock = require_lock(project)
    clients = clients or ProjectClients(project, cache_dir, offline=offline)
    rows = []
    for name, entry in sorted(lock.plugins.items()):
        infos = clients(entry.registry).versions(name)
        asked = _ranges(project, lock, name)
        ranges = [project.plugins[name].range] if name in project.plugins else []  # its pre-release opt-in too
        for _, spec in asked[len(ranges) :]:
            try:
                ranges.append(Range.parse(spec))
            except SemverError:
                continue
        fits = [i for i in infos if not i.yanked and all(r.matches(i.semver) for r in ranges)]
        wanted = max(fits, key=lambda i: i.semver).version if fits else None
        latest = latest_of(infos)
        rows.append(
            Outdated(
                name,
                entry.version,
                wanted,
                latest.version if latest else None,
                name in project.plugins,
                tuple(by for by, _ in asked),
                entry.registry,
            )
        )
    return rows


@dataclass(frozen=True)
class RangeChange:
    """`update --latest` rewrote one range of extism.yaml."""

    name: str
    old: str
    new: str
    current: str | None  # the version locked before
    latest: str
    major: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "old_range": self.old,
            "new_range": self.new,
            "current": self.current,
            "latest": self.latest,
            "major": self.major,
        }


def _respell(spec: str, latest: str) -> str:
    """`latest` in the style of `spec`: `~` stays `~`, an exact version stays exact, the rest becomes `^`."""
    s = spec.strip()
    if s.startswith("~"):
        return "~" + latest
    try:
        Version.parse(s.lstrip("="))
        return latest
    except SemverError:
        return "^" + latest


@dataclass
class Update:
    installation: Installation
    ranges: list[RangeChange] = field(default_factory=list)
    text: str | None = None  # the new extism.yaml, when `--latest` changed a range

    @property
    def warnings(self) -> list[str]:
        out = [
            f"{c.name}: {c.old} → {c.new} crosses a major version ({c.current or 'none'} → {c.latest}); "
            "by semver it may break: read its changelog and check the permissions it asks for"
            for c in self.ranges
            if c.major
        ]
        return out + self.installation.warnings

    def write(self) -> bool:
        """extism.yaml first (when a range changed), then extism.lock; each atomically."""
        if self.text is not None:
            atomic_write(self.installation.project.path, self.text.encode())
        return self.installation.write() or self.text is not None

    def to_dict(self) -> dict[str, Any]:
        return {**self.installation.to_dict(), "ranges": [c.to_dict() for c in self.ranges], "warnings": self.warnings}


def update(
    project: Project,
    names: Collection[str] = (),
    *,
    latest: bool = False,
    cache_dir: Path | None = None,
    offline: bool = False,
    progress: Progress | None = None,
    accept_permissions: bool = False,
) -> Update:
    """Move `names` (default: every plugin) to the newest versions their ranges allow; with `latest`,
    first rewrite extism.yaml's range of each named direct plugin whose latest release is outside it.
    Nothing is written until `.write()`."""
    lock = require_lock(project)
    unknown = sorted(set(names) - set(project.plugins) - set(lock.plugins))
    if unknown:
        raise LockError(f"update {unknown[0]}: neither {project.path.name} nor {project.lock_path.name} has it")
    changes: list[RangeChange] = []
    if latest:
        unknown = sorted(set(names) - set(project.plugins))
        if unknown:
            deps = [n for n in unknown if n in lock.plugins]
            why = " (a dependency: its range is its dependent's; update that one)" if deps else ""
            raise LockError(f"update --latest {unknown[0]}: {project.path.name} does not list it{why}")
        clients = ProjectClients(project, cache_dir, offline=offline)
        text = project.text
        edited = project
        for name in sorted(names or project.plugins):
            want = project.plugins[name]
            info = latest_of(clients.for_ref(project.registries[want.registry]).versions(name))
            if info is None or want.range.matches(info.semver):
                continue
            entry = lock.plugins.get(name)
            new_spec = _respell(want.spec, info.version)
            major = breaks(Version.parse(entry.version), info.semver) if entry else False
            current = entry.version if entry else None
            changes.append(RangeChange(name, want.spec, new_spec, current, info.version, major))
            keep = want.registry if want.registry != DEFAULT_REGISTRY else None  # a mapping entry stays one
            text = with_plugin(edited, name, new_spec, keep)
            edited = parse_project(project.path, text)
        project = edited
    upgrade = set(names) or {UPGRADE_ALL}
    result = install(
        project,
        upgrade=upgrade,
        cache_dir=cache_dir,
        offline=offline,
        progress=progress,
        accept_permissions=accept_permissions,
    )
    return Update(result, changes, text if changes else None)
