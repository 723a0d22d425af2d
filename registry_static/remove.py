"""`extism-plugin remove NAME`: drop a plugin from extism.yaml and, from extism.lock, it and every
dependency nothing else needs. No registry is read: removing a root only prunes the locked graph,
which still satisfies what is left (so `install --frozen` holds afterwards).

`remove()` is the one place a removal happens: it computes the new files and calls `on_removed` for
each plugin that leaves (a lifecycle hook such as `on_uninstall` runs there); if that raises,
nothing has been written. `Removal.write()` then writes extism.yaml and extism.lock atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plugin_format.errors import NotFoundError
from plugin_format.files import atomic_write
from registry_static.lockfile import LockedPlugin, Lockfile, write_lock
from registry_static.project import Project, parse_project, without_plugin
from registry_static.tree import dependents


@dataclass(frozen=True)
class Removal:
    project: Project  # the new extism.yaml (parsed)
    lock: Lockfile  # the new extism.lock
    removed: list[LockedPlugin]  # the plugin and the dependencies it alone needed, by name
    kept: list[tuple[str, list[str]]]  # its dependencies still needed, with who needs them

    def write(self) -> None:
        """extism.yaml first, then extism.lock (each atomic; a crash between is repaired by `install`)."""
        atomic_write(self.project.path, self.project.text.encode())
        write_lock(self.project.lock_path, self.lock)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": str(self.project.path),
            "lock": str(self.project.lock_path),
            "removed": [{"name": p.name, "version": p.version} for p in self.removed],
            "kept": [{"name": n, "needed_by": by} for n, by in self.kept],
        }


def remove(
    project: Project,
    lock: Lockfile | None,
    name: str,
    *,
    on_removed: Callable[[LockedPlugin], None] | None = None,
) -> Removal:
    """The project and lock without `name` (and its now-unneeded dependencies); nothing is written."""
    if name not in project.plugins:
        needed = [f"{p.name}@{p.version}" for p, _ in dependents(lock).get(name, [])] if lock else []
        if needed:
            raise NotFoundError(
                f"{project.path.name}: {name} is not listed in plugins:, it is a dependency of "
                f"{', '.join(needed)} (remove that instead)"
            )
        raise NotFoundError(f"{project.path.name}: plugins: has no {name}")
    new_project = parse_project(project.path, without_plugin(project, name))
    plugins = dict(lock.plugins) if lock else {}
    keep: set[str] = set()
    todo = [n for n in new_project.plugins if n in plugins]
    while todo:
        current = todo.pop()
        if current in keep:
            continue
        keep.add(current)
        todo.extend(d for d in plugins[current].dependencies if d in plugins)
    removed = [plugins[n] for n in sorted(set(plugins) - keep)]
    new_lock = Lockfile({n: p for n, p in plugins.items() if n in keep})
    needs = dependents(new_lock)
    kept = [
        (d, [project.path.name] * (d in new_project.plugins) + [f"{p.name}@{p.version}" for p, _ in needs.get(d, [])])
        for d in sorted(plugins[name].dependencies if name in plugins else ())
        if d in keep
    ]
    for gone in removed:
        if on_removed is not None:
            on_removed(gone)
    return Removal(new_project, new_lock, removed, kept)
