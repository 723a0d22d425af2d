"""The consumer commands of `extism-plugin`: install, add, remove, update, outdated, list, tree, why,
search, info and cache. The logic lives in `registry_static` (install, outdated, remove, tree, search,
cache); this module parses options and formats text and `--json`.

`register_package_commands(sub, add_command)` adds them to `extism-plugin`'s subparsers;
`add_command` is the CLI's own subcommand factory (help text, examples, `--json`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from plugin_format.errors import ExtismPlatformError

EXAMPLES = {
    "install": """examples:
  extism-plugin install                          # resolve extism.yaml, fetch + verify, write extism.lock
  extism-plugin install --frozen                 # CI: exactly what extism.lock pins, or fail (no registry needed
                                                 #     when the cache is warm)
  extism-plugin install --offline                # only the cache: fails naming what is missing
  extism-plugin install --upgrade @acme/weather  # let one plugin move to its newest matching version
  extism-plugin install --project deploy/extism.yaml --upgrade --json
  extism-plugin install --upgrade @acme/weather --accept-permissions   # it asks for more: accept, as shown
  extism-plugin install --state-dir /srv/mcp/state  # plugins' lifecycle hooks migrate that kv store
""",
    "add": """examples:
  extism-plugin add @acme/weather                # newest version, written as "^1.2.0" (kept if already there)
  extism-plugin add '@acme/weather@~1.1' --registry acme   # an explicit range replaces the old one
  extism-plugin add greeter@0.1 --project deploy/extism.yaml
  extism-plugin add @acme/beta --prerelease      # its pre-releases match too (prerelease: true)
""",
    "remove": """examples:
  extism-plugin remove @acme/weather             # from extism.yaml, and it + its unneeded deps from extism.lock
  extism-plugin remove greeter --project deploy/extism.yaml --json
""",
    "update": """examples:
  extism-plugin update                           # every plugin to the newest version its range allows
  extism-plugin update @acme/weather             # just that one (and what it needs)
  extism-plugin update --latest                  # rewrite ranges to the latest releases (warns on a major bump)
  extism-plugin update --offline --json          # newest versions already in the cache
""",
    "outdated": """examples:
  extism-plugin outdated                         # current / wanted / latest; exit 1 when something is outdated
  extism-plugin outdated --all --json            # every locked plugin, up to date or not
""",
    "list": """examples:
  extism-plugin list                             # every locked plugin, its version and why it is there
  extism-plugin list --json
""",
    "tree": """examples:
  extism-plugin tree                             # extism.yaml's plugins and what they depend on
  extism-plugin tree --depth 1 --json
""",
    "why": """examples:
  extism-plugin why @acme/units                  # every chain from extism.yaml that pulls it in
  extism-plugin why @acme/units --json
""",
    "search": """examples:
  extism-plugin search weather                   # in the registry extism.yaml calls default
  extism-plugin search "unit convert" --registry https://plugins.example.com --json
""",
    "info": """examples:
  extism-plugin info @acme/weather               # versions, exports, permissions, dependencies
  extism-plugin info '@acme/weather@^1.1' --registry acme --json
""",
    "cache": """examples:
  extism-plugin cache ls                         # cached blobs, author keys, registries
  extism-plugin cache verify                     # re-hash everything; exit 1 if a file was modified
  extism-plugin cache clean --corrupt            # drop only what verify flags (clean alone: all of it)
""",
}

AddCommand = Callable[..., argparse.ArgumentParser]


def _emit(args: argparse.Namespace, doc: Any, text: str) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False) if args.json else text)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"extism-plugin: warning: {warning}", file=sys.stderr)


def _project(args: argparse.Namespace) -> Any:
    from registry_static.project import load_project

    return load_project(Path(args.project))


@contextlib.contextmanager
def _progress(args: argparse.Namespace) -> Iterator[Any]:
    """Download progress bars on a terminal (rich, on stderr, cleared when done); nothing otherwise."""
    if args.json or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bars:

        @contextlib.contextmanager
        def one(what: str, size: int) -> Iterator[Callable[[int], None]]:
            task = bars.add_task(what, total=size)
            try:
                yield lambda n: bars.advance(task, n)
            finally:
                bars.remove_task(task)

        yield one


# ---- install / add ---------------------------------------------------------------------------------


def _state_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="the kv store (and audit key) lifecycle hooks run on, as extism-mcp-server --state-dir "
        "(default: the platform's state directory)",
    )
    p.add_argument(
        "--kv",
        metavar="URL",
        help="the kv store lifecycle hooks run on when the server is given --kv URL (redis://…); "
        "default: $EXTISM_KV_URL, else extism.yaml's kv:, else the SQLite file in the state directory",
    )


def add_accept_permissions(p: argparse.ArgumentParser) -> None:
    """`--accept-permissions`, for every command that may move a plugin to another version."""
    p.add_argument(
        "--accept-permissions",
        action="store_true",
        help="go ahead when a new version asks for more permissions than extism.lock records (shown first)",
    )


def _commit_install(args: argparse.Namespace, result: Any) -> tuple[bool, Any]:
    """Run the plugins' lifecycle hooks (sandboxed, see extism_platform/hooks.py), then write
    extism.lock; a failing hook raises before anything is written."""
    from extism_platform.hooks import run_install_hooks

    hooks = run_install_hooks(result, state_dir=args.state_dir, kv_url=args.kv)
    return result.write(), hooks


def _installed(args: argparse.Namespace, result: Any, wrote: bool, hooks: Any, extra: str = "", doc: Any = None) -> int:
    _warn(result.warnings)
    width = max((len(p.locked.name) for p in result.plugins), default=0)
    lines = [
        f"{p.locked.name:<{width}}  {p.locked.version:<10} {p.locked.registry}" + ("" if p.direct else "  (dependency)")
        for p in result.plugins
    ]
    changes = result.changes()
    if changes and result.previous is not None:
        lines += ["changes:", *(f"  {c}" for c in changes)]
    lines += hooks.lines()
    lock = result.project.lock_path
    lines.append(extra + (f"{lock} written ({len(result.plugins)} plugins)" if wrote else f"{lock} up to date"))
    out = {**result.to_dict(), "written": wrote, **hooks.to_dict(), **(doc or {})}
    _emit(args, out, "\n".join(lines))
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from extism_platform.grants import grants_from_project
    from registry_static.install import install

    project = _project(args)
    grants_from_project(project.grants, project.path.name)  # a bad grant fails now, not when serving
    with _progress(args) as progress:
        result = install(
            project,
            frozen=args.frozen,
            upgrade=set(args.upgrade or ()),
            offline=args.offline,
            progress=progress,
            accept_permissions=args.accept_permissions,
        )
    wrote, hooks = _commit_install(args, result)
    return _installed(args, result, wrote, hooks)


def cmd_add(args: argparse.Namespace) -> int:
    from extism_platform.host.sources import parse_spec
    from plugin_format.files import atomic_write
    from registry_static.install import install
    from registry_static.project import parse_project, with_plugin

    project = _project(args)
    name, spec = parse_spec(args.plugin)
    explicit = args.plugin.rfind("@") > 0
    if args.registry and args.registry not in project.registries:
        raise ExtismPlatformError(f"--registry {args.registry}: {project.path.name} defines no such registry")
    old = project.plugins.get(name)
    where = f"{project.path}: plugins.{name}"
    if old is not None and not explicit and not args.registry and not (args.prerelease and not old.prerelease):
        # Already wanted: `add X` again never rewrites the range (`add X@RANGE` does, `update --latest` too).
        with _progress(args) as progress:
            result = install(
                project, offline=args.offline, progress=progress, accept_permissions=args.accept_permissions
            )
        note = (
            f"{where} = {old.spec} (already there, kept: `extism-plugin add {name}@RANGE` changes it, "
            f"`extism-plugin update {name} --latest` moves it to the latest release)\n"
        )
        change = {"name": name, "action": "kept", "old": old.spec, "new": old.spec}
        wrote, hooks = _commit_install(args, result)
        return _installed(args, result, wrote, hooks, extra=note, doc={"range": change})
    if old is not None and not explicit:  # `add X --prerelease` on a wanted X: its range stays
        spec = old.spec
    # Install from the edited text first: extism.yaml and extism.lock are written only if all of it works.
    text = with_plugin(project, name, spec, args.registry, prerelease=args.prerelease)
    with _progress(args) as progress:
        result = install(
            parse_project(project.path, text),
            upgrade={name},
            offline=args.offline,
            progress=progress,
            accept_permissions=args.accept_permissions,
        )
    if not explicit and old is None:  # no range given: pin the newest version's major line, as npm does
        spec = "^" + next(p.locked.version for p in result.plugins if p.locked.name == name)
        text = with_plugin(project, name, spec, args.registry, prerelease=args.prerelease)
        result.project = parse_project(project.path, text)
    wrote, hooks = _commit_install(args, result)  # a failing hook leaves extism.yaml as it was, too
    atomic_write(project.path, text.encode())
    if old is None:
        note, action = f"{where} = {spec}\n", "added"
    elif old.spec == spec:
        note, action = f"{where} = {spec} (unchanged)\n", "unchanged"
    else:
        note, action = f"{where}: {old.spec} → {spec}\n", "changed"
    change = {"name": name, "action": action, "old": old.spec if old else None, "new": spec}
    return _installed(args, result, wrote, hooks, extra=note, doc={"range": change})


# ---- remove / update / outdated ------------------------------------------------------------------------


def cmd_remove(args: argparse.Namespace) -> int:
    from extism_platform.hooks import run_lock_change
    from registry_static.lockfile import read_lock
    from registry_static.remove import remove

    project = _project(args)
    old = read_lock(project.lock_path)
    removal = remove(project, old, args.name)
    # on_uninstall of what leaves (the plugins that stay are not touched); fails before anything is written
    leaving = {p.name for p in removal.removed}
    hooks = run_lock_change(project, old, removal.lock, only=leaving, state_dir=args.state_dir, kv_url=args.kv)
    removal.write()
    lines = [f"removed {p.name} {p.version}" for p in removal.removed]
    lines += [f"kept {n} (needed by {', '.join(by)})" for n, by in removal.kept]
    lines += hooks.lines()
    lines.append(f"{project.path} and {project.lock_path.name} written")
    _emit(args, {**removal.to_dict(), **hooks.to_dict()}, "\n".join(lines))
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from registry_static.outdated import update

    project = _project(args)
    with _progress(args) as progress:
        result = update(
            project,
            args.names,
            latest=args.latest,
            offline=args.offline,
            progress=progress,
            accept_permissions=args.accept_permissions,
        )
    _warn(result.warnings)
    from extism_platform.hooks import run_install_hooks

    hooks = run_install_hooks(result.installation, state_dir=args.state_dir, kv_url=args.kv)  # on_update; fails first
    wrote = result.write()
    inst = result.installation
    lines = [f"{project.path}: plugins.{c.name}: {c.old} → {c.new}" for c in result.ranges]
    changes = inst.changes()
    lines += [str(c) for c in changes] or ["everything is already at the newest version its range allows"]
    lines += hooks.lines()
    lines.append(f"{project.lock_path} written" if wrote else f"{project.lock_path} up to date")
    _emit(args, {**result.to_dict(), "written": wrote, **hooks.to_dict()}, "\n".join(lines))
    return 0


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def cmd_outdated(args: argparse.Namespace) -> int:
    from registry_static.outdated import outdated

    project = _project(args)
    rows = outdated(project, offline=args.offline)
    shown = [r for r in rows if args.all or r.is_outdated]
    table = [["Plugin", "Current", "Wanted", "Latest", "Depended by"]]
    for r in shown:
        latest = (r.latest or "-") + (" (major)" if r.major_change else "")
        table.append([r.name, r.current, r.wanted or "-", latest, ", ".join(r.dependents)])
    text = "\n".join(_table(table)) if shown else "every plugin is at its latest version"
    _emit(args, {"project": str(project.path), "plugins": [r.to_dict() for r in shown]}, text)
    return 1 if any(r.is_outdated for r in rows) else 0  # as npm: 1 when something is outdated


# ---- list / tree / why -----------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from registry_static.tree import list_plugins, require_lock

    project = _project(args)
    rows = list_plugins(project, require_lock(project))
    table = [["Plugin", "Version", "Range", "Required by"]]
    for r in rows:
        table.append([r.name, r.version, r.wanted or "-", ", ".join(r.required_by) or project.path.name])
    text = "\n".join(_table(table)) if rows else "nothing installed"
    _emit(args, {"project": str(project.path), "plugins": [r.to_dict() for r in rows]}, text)
    return 0


def _tree_lines(nodes: list[dict[str, Any]], prefix: str = "") -> list[str]:
    out = []
    for i, n in enumerate(nodes):
        last = i == len(nodes) - 1
        mark = " (deduped)" if n["deduped"] else " (MISSING from extism.lock)" if n["missing"] else ""
        out.append(f"{prefix}{'└── ' if last else '├── '}{n['name']} {n['version'] or ''} ({n['range']}){mark}")
        out += _tree_lines(n["dependencies"], prefix + ("    " if last else "│   "))
    return out


def cmd_tree(args: argparse.Namespace) -> int:
    from registry_static.tree import require_lock, tree

    project = _project(args)
    nodes = tree(project, require_lock(project), depth=args.depth)
    _emit(args, {"project": str(project.path), "plugins": nodes}, "\n".join([str(project.path), *_tree_lines(nodes)]))
    return 0


def cmd_why(args: argparse.Namespace) -> int:
    from registry_static.tree import require_lock, why

    project = _project(args)
    lock = require_lock(project)
    chains = why(project, lock, args.name)
    entry = lock.plugins[args.name]
    lines = [f"{args.name} {entry.version}"]
    for chain in chains:
        for depth, step in enumerate(reversed(chain)):
            lines.append("  " * (depth + 1) + f"{step['by']} needs {step['name']} {step['range']}")
    _emit(args, {"name": args.name, "version": entry.version, "chains": chains}, "\n".join(lines))
    return 0


# ---- search / info ----------------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> Any:
    """The registry --registry names (an extism.yaml entry or a URL/path), else extism.yaml's default."""
    from registry_static.install import ProjectClients
    from registry_static.project import DEFAULT_REGISTRY, Project

    reg = args.registry
    if reg and ("://" in reg or reg.startswith((".", "/", "~"))):
        from registry_static.client import RegistryClient

        return RegistryClient(reg, offline=args.offline)
    try:
        project = _project(args)
    except ExtismPlatformError:
        if reg is None:
            raise ExtismPlatformError(
                f"{args.project}: not found; pass --registry URL (or run this where extism.yaml is)"
            ) from None
        raise
    name = reg or DEFAULT_REGISTRY
    if name not in project.registries:
        raise ExtismPlatformError(f"--registry {name}: {project.path.name} defines no such registry")
    assert isinstance(project, Project)
    return ProjectClients(project, offline=args.offline).for_ref(project.registries[name])


def cmd_search(args: argparse.Namespace) -> int:
    from registry_static.search import search

    client = _client(args)
    hits, names_only = search(client, args.text, limit=args.limit)
    table = [["Plugin", "Version", "Description"]]
    table += [[h.name, h.version or "-", h.description] for h in hits]
    text = "\n".join(_table(table)) if hits else f"no plugin in {client.url} matches {args.text!r}"
    if names_only:
        text += "\n(a large registry: names were searched, not descriptions)"
    doc = {"registry": client.url, "query": args.text, "names_only": names_only, "plugins": [h.to_dict() for h in hits]}
    _emit(args, doc, text)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from extism_platform.host.sources import parse_spec
    from registry_static.search import info

    name, spec = parse_spec(args.plugin)
    client = _client(args)
    doc = info(client, name, spec if args.plugin.rfind("@") > 0 else None)
    sel = doc.get("selected")
    lines = [f"{name} — {client.url}"]
    if sel:
        lines += [
            f"{sel['version']}: {sel['description']}",
            f"language {sel['language'] or '?'}, license {sel['license'] or '?'}, published {sel['published']}",
            f"author key {sel['author_key_id'][:16]}…, wasm sha256 {sel['wasm_sha256'][:16]}… ({sel['size']:,} bytes)",
            "exports: " + (", ".join(e["name"] for e in sel["exports"]) or "none"),
            "permissions: " + (json.dumps(sel["permissions"], sort_keys=True) if sel["permissions"] else "none"),
            "dependencies: " + (", ".join(f"{d} {r}" for d, r in sorted(sel["dependencies"].items())) or "none"),
        ]
    marks = [
        v["version"] + (" (yanked)" if v["yanked"] else "") + (" (deprecated)" if v["deprecated"] else "")
        for v in doc["versions"]
    ]
    lines.append("versions: " + ", ".join(marks))
    lines.append(f"verified: {doc['verified']}")
    _emit(args, doc, "\n".join(lines))
    return 0


# ---- cache --------------------------------------------------------------------------------------------------


def cmd_cache(args: argparse.Namespace) -> int:
    from registry_static import cache

    if args.action == "ls":
        doc = cache.cache_listing()
        size = f"{doc['blob_bytes']:,} bytes"
        lines = [f"{doc['cache']}: {len(doc['blobs'])} blobs ({size}), {len(doc['keys'])} author keys"]
        lines += [f"  registry {r['url']}: {r['index_files']} index files" for r in doc["registries"]]
        _emit(args, doc, "\n".join(lines))
        return 0
    if args.action == "verify":
        doc = cache.verify_cache()
        lines = [f"{p['path']}: {p['problem']}" for p in doc["problems"]]
        verdict = "FAILED" if doc["problems"] else "OK"
        lines.append(f"{verdict}: {doc['blobs']} blobs, {doc['keys']} keys checked, {len(doc['problems'])} problems")
        if doc["problems"]:
            lines.append("(`extism-plugin cache clean --corrupt` removes them; `install` fetches them again)")
        _emit(args, doc, "\n".join(lines))
        return 1 if doc["problems"] else 0
    doc = cache.clean_cache(corrupt_only=args.corrupt)
    _emit(args, doc, "\n".join([*(f"removed {p}" for p in doc["removed"]), f"{len(doc['removed'])} removed"]))
    return 0


# ---- the parser -------------------------------------------------------------------------------------------------


def _project_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", default="extism.yaml", metavar="extism.yaml", help="default: ./extism.yaml")


def _offline_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--offline", action="store_true", help="use only the cache (fails naming what is missing)")


def register_package_commands(sub: Any, add_command: AddCommand) -> None:
    """Add the consumer commands to `extism-plugin`'s subparsers."""

    def command(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = add_command(sub, name, help_text, func)
        p.epilog = EXAMPLES[name]
        return p

    p = command("install", "install extism.yaml's plugins: resolve, fetch, verify, write extism.lock", cmd_install)
    _project_flag(p)
    p.add_argument("--frozen", action="store_true", help="install exactly what extism.lock pins; fail if it is stale")
    p.add_argument(
        "--upgrade",
        action="append",
        nargs="?",
        const="*",
        metavar="NAME",
        help="ignore extism.lock's version for NAME (repeatable), or for every plugin without NAME",
    )
    _offline_flag(p)
    add_accept_permissions(p)
    _state_dir_option(p)

    p = command("add", "add a plugin to extism.yaml (keeping the rest of the file) and install", cmd_add)
    p.add_argument("plugin", metavar="NAME[@RANGE]", help="e.g. @acme/weather or '@acme/weather@^1.2'")
    _project_flag(p)
    p.add_argument("--registry", metavar="NAME", help="take it from this entry of registries (default: default)")
    p.add_argument(
        "--prerelease",
        action="store_true",
        help="pre-releases (2.0.0-rc.1) match its range too: writes `prerelease: true` to its entry",
    )
    _offline_flag(p)
    add_accept_permissions(p)
    _state_dir_option(p)

    p = command("remove", "remove a plugin from extism.yaml and extism.lock (with deps nothing else needs)", cmd_remove)
    p.add_argument("name", metavar="NAME")
    _project_flag(p)
    _state_dir_option(p)

    p = command("update", "move plugins to the newest versions their ranges allow (--latest: past them)", cmd_update)
    p.add_argument("names", nargs="*", metavar="NAME", help="only these (default: every plugin)")
    p.add_argument("--latest", action="store_true", help="rewrite extism.yaml's ranges to the latest releases")
    _project_flag(p)
    _offline_flag(p)
    add_accept_permissions(p)
    _state_dir_option(p)

    p = command("outdated", "show current / wanted / latest versions (exit 1 when something is outdated)", cmd_outdated)
    p.add_argument("--all", action="store_true", help="also list plugins that are up to date")
    _project_flag(p)
    _offline_flag(p)

    p = command("list", "list the installed (locked) plugins", cmd_list)
    _project_flag(p)

    p = command("tree", "show the dependency tree of extism.yaml's plugins", cmd_tree)
    p.add_argument("--depth", type=int, metavar="N", help="show N levels of dependencies (default: all)")
    _project_flag(p)

    p = command("why", "show why a plugin is installed (every chain from extism.yaml)", cmd_why)
    p.add_argument("name", metavar="NAME")
    _project_flag(p)

    for name, text, func in (
        ("search", "search a registry's plugins (names, descriptions, tags)", cmd_search),
        ("info", "show a plugin's versions, exports, permissions and dependencies", cmd_info),
    ):
        p = command(name, text, func)
        if name == "search":
            p.add_argument("text", metavar="TEXT")
            p.add_argument("--limit", type=int, default=50, help="at most this many results (default: 50)")
        else:
            p.add_argument("plugin", metavar="NAME[@RANGE]")
        p.add_argument("--registry", metavar="NAME|URL", help="an extism.yaml registry or a URL (default: default)")
        _project_flag(p)
        _offline_flag(p)

    p = command("cache", "list, verify or clean the package cache", cmd_cache)
    p.add_argument("action", choices=("ls", "verify", "clean"))
    p.add_argument("--corrupt", action="store_true", help="clean: remove only the files `verify` flags")
