"""What a project has installed, read from extism.lock and extism.yaml alone (no registry, no cache):
`extism-plugin list`, `tree` and `why`.

The lock records each plugin's declared dependency ranges, so the graph is the lock's own: a root is a
plugin extism.yaml wants, an edge is `<plugin> <version> needs <dependency> <range>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugin_format.errors import LockError, NotFoundError
from registry_static.lockfile import LockedPlugin, Lockfile, read_lock
from registry_static.project import Project


def require_lock(project: Project) -> Lockfile:
    """extism.lock, or an error saying how to make one."""
    lock = read_lock(project.lock_path)
    if lock is None:
        raise LockError(f"{project.lock_path}: not found (run `extism-plugin install` first)")
    return lock


def dependents(lock: Lockfile) -> dict[str, list[tuple[LockedPlugin, str]]]:
    """name → the locked plugins that need it, with the range each asks for."""
    out: dict[str, list[tuple[LockedPlugin, str]]] = {}
    for parent in sorted(lock.plugins.values(), key=lambda p: p.name):
        for dep, spec in sorted(parent.dependencies.items()):
            out.setdefault(dep, []).append((parent, spec))
    return out


@dataclass(frozen=True)
class Listed:
    name: str
    version: str
    registry: str
    direct: bool
    wanted: str | None  # extism.yaml's range (direct plugins)
    required_by: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "registry": self.registry,
            "direct": self.direct,
            "range": self.wanted,
            "required_by": list(self.required_by),
        }


def list_plugins(project: Project, lock: Lockfile) -> list[Listed]:
    """Every locked plugin, sorted by name."""
    needs = dependents(lock)
    return [
        Listed(
            p.name,
            p.version,
            p.registry,
            p.name in project.plugins,
            project.plugins[p.name].spec if p.name in project.plugins else None,
            tuple(f"{q.name}@{q.version}" for q, _ in needs.get(p.name, [])),
        )
        for p in sorted(lock.plugins.values(), key=lambda p: p.name)
    ]


def tree(project: Project, lock: Lockfile, depth: int | None = None) -> list[dict[str, Any]]:
    """The dependency tree from extism.yaml's plugins: nodes {name, version, range, deduped,
    dependencies}. A plugin already shown higher up is marked `deduped` (its children are not
    repeated), as npm does; `depth` limits how deep children go (None: all)."""
    seen: set[str] = set()

    def node(name: str, spec: str, level: int, path: tuple[str, ...]) -> dict[str, Any]:
        entry = lock.plugins.get(name)
        out: dict[str, Any] = {
            "name": name,
            "version": entry.version if entry else None,
            "range": spec,
            "deduped": False,
            "missing": entry is None,
            "dependencies": [],
        }
        if entry is None:
            return out
        if name in seen or name in path:
            out["deduped"] = True
            return out
        seen.add(name)
        if depth is None or level < depth:
            out["dependencies"] = [node(d, s, level + 1, (*path, name)) for d, s in sorted(entry.dependencies.items())]
        return out

    return [node(n, w.spec, 0, ()) for n, w in sorted(project.plugins.items())]


def why(project: Project, lock: Lockfile, name: str) -> list[list[dict[str, str]]]:
    """Every chain that makes `name` installed, from extism.yaml down to it. A step is
    {by, name, version, range}: `by` ("extism.yaml" or "<plugin>@<version>") asks for `name` `range`."""
    if name not in lock.plugins:
        close = [n for n in lock.plugins if name.split("/")[-1] in n]
        hint = f" (did you mean {', '.join(sorted(close))}?)" if close else ""
        raise NotFoundError(f"{project.lock_path.name}: {name} is not installed{hint}")
    needs = dependents(lock)
    root = project.path.name
    chains: list[list[dict[str, str]]] = []

    def walk(current: str, below: list[dict[str, str]], seen: frozenset[str]) -> None:
        entry = lock.plugins[current]
        if current in project.plugins:
            step = {"by": root, "name": current, "version": entry.version, "range": project.plugins[current].spec}
            chains.append([step, *below])
        for parent, spec in needs.get(current, []):
            if parent.name in seen:
                continue  # a cycle in the lock: every chain is still finite
            step = {"by": f"{parent.name}@{parent.version}", "name": current, "version": entry.version, "range": spec}
            walk(parent.name, [step, *below], seen | {parent.name})

    walk(name, [], frozenset({name}))
    return sorted(chains, key=lambda c: (len(c), [s["by"] for s in c]))
