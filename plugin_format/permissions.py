"""Permissions: what a plugin version requests, what the user grants, and how two of them compare.

One model for every side: the registry records at publish what each version asks for more (or less)
than the previous one (`diff`), extism.lock records each locked plugin's `PermissionSet` and its
`digest`, `install`/`update` stop when a new version asks for more than the locked one and
extism.yaml's grants do not cover it (`uncovered`), and the run side intersects requests with grants
(`extism_platform.grants.effective`, which uses `Grant` and the host patterns from here).

A permission set has seven kinds: `hosts`, `paths` (host dir → guest dir, `:rw` for writable),
`config` (keys), `host_functions` (groups or single functions), `wasi`, `memory_mib` and `timeout_ms`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_format.errors import GrantError
from plugin_format.host_functions import allowed_imports
from plugin_format.manifest import DEFAULT_MEMORY_MIB, DEFAULT_TIMEOUT_MS

#: the kinds whose values are sets (shown as +added / -removed), then the flag and the two limits
SET_KINDS = ("hosts", "paths", "config", "host_functions")
LIMIT_KINDS = ("memory_mib", "timeout_ms")
#: the on/off capabilities: turning one on is asking for more
FLAG_KINDS = ("wasi", "http_response_headers")
KINDS = (*SET_KINDS, *FLAG_KINDS, *LIMIT_KINDS)


def _rw(guest: str) -> bool:
    return guest.endswith(":rw")


def _guest_dir(guest: str) -> str:
    return guest.removesuffix(":rw").removesuffix(":ro")


@dataclass(frozen=True)
class PermissionSet:
    """The requested permissions of one plugin version, normalised (sorted, duplicates dropped), so
    that two spellings of the same request give the same `digest`."""

    hosts: tuple[str, ...] = ()
    paths: tuple[tuple[str, str], ...] = ()  # (host dir, guest dir[:rw]) sorted by host dir
    config: tuple[str, ...] = ()
    host_functions: tuple[str, ...] = ()
    wasi: bool = False
    memory_mib: int = DEFAULT_MEMORY_MIB
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    #: reads its HTTP responses' headers (kept out of `to_dict` when off, so older digests stay valid)
    http_response_headers: bool = False

    @classmethod
    def build(
        cls,
        *,
        hosts: Any = (),
        paths: Mapping[str, str] | None = None,
        config: Any = (),
        host_functions: Any = (),
        wasi: bool = False,
        memory_mib: int | None = None,
        timeout_ms: int | None = None,
        http_response_headers: bool = False,
    ) -> PermissionSet:
        return cls(
            tuple(sorted({str(h).lower() for h in hosts or ()})),
            tuple(sorted((str(k), str(v)) for k, v in (paths or {}).items())),
            tuple(sorted({str(c) for c in config or ()})),
            tuple(sorted({str(f) for f in host_functions or ()})),
            bool(wasi),
            DEFAULT_MEMORY_MIB if memory_mib is None else int(memory_mib),
            DEFAULT_TIMEOUT_MS if timeout_ms is None else int(timeout_ms),
            bool(http_response_headers),
        )

    @classmethod
    def from_manifest(cls, doc: Mapping[str, Any]) -> PermissionSet:
        """From a resolved manifest (plugin.json, or plugin.yaml as a dict): `permissions` plus `wasi`."""
        perms = doc.get("permissions") or {}
        return cls.from_dict({**perms, "wasi": bool(doc.get("wasi", False))})

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> PermissionSet:
        """From `to_dict()`'s shape (also an index entry's `permissions` plus its `wasi`)."""
        return cls.build(
            hosts=doc.get("hosts"),
            paths=doc.get("paths"),
            config=doc.get("config"),
            host_functions=doc.get("host_functions"),
            wasi=bool(doc.get("wasi", False)),
            memory_mib=doc.get("memory_mib"),
            timeout_ms=doc.get("timeout_ms"),
            http_response_headers=bool(doc.get("http_response_headers", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "hosts": list(self.hosts),
            "paths": dict(self.paths),
            "config": list(self.config),
            "host_functions": list(self.host_functions),
            "wasi": self.wasi,
            "memory_mib": self.memory_mib,
            "timeout_ms": self.timeout_ms,
            **({"http_response_headers": True} if self.http_response_headers else {}),
        }

    @property
    def digest(self) -> str:
        """sha256 (hex) of the canonical JSON of `to_dict()`: sorted keys, no spaces, UTF-8."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class PermissionDiff:
    """What `new` asks for compared with `old`: per set kind the values added and removed; `wasi`
    and the limits as (old, new) when they changed."""

    added: dict[str, tuple[str, ...]] = field(default_factory=dict)
    removed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    @property
    def widened(self) -> bool:
        """Whether the new version asks for anything more (a new value, WASI turned on, a higher limit)."""
        return bool(self.added) or any(_more(k, old, new) for k, (old, new) in self.changed.items())

    def widening(self) -> PermissionDiff:
        """Only the part that asks for more."""
        return PermissionDiff(dict(self.added), {}, {k: v for k, v in self.changed.items() if _more(k, v[0], v[1])})

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": {k: list(v) for k, v in self.added.items()},
            "removed": {k: list(v) for k, v in self.removed.items()},
            "changed": {k: list(v) for k, v in self.changed.items()},
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> PermissionDiff:
        return cls(
            {k: tuple(v) for k, v in (doc.get("added") or {}).items()},
            {k: tuple(v) for k, v in (doc.get("removed") or {}).items()},
            {k: (v[0], v[1]) for k, v in (doc.get("changed") or {}).items()},
        )

    def lines(self) -> list[str]:
        """One line per change: `+ hosts: api.new.example`, `- config: old_key`, `memory_mib: 16 → 64`."""
        out = [f"+ {k}: {', '.join(v)}" for k, v in self.added.items()]
        out += [f"- {k}: {', '.join(v)}" for k, v in self.removed.items()]
        for k, (old, new) in self.changed.items():
            if k in FLAG_KINDS:
                out.append(f"{'+' if new else '-'} {k}")
            else:
                out.append(f"{k}: {old} → {new}")
        return out


def _more(kind: str, old: Any, new: Any) -> bool:
    return bool(new) and not old if kind in FLAG_KINDS else new > old


def _path_items(s: PermissionSet) -> tuple[str, ...]:
    return tuple(f"{h} → {g}" for h, g in s.paths)


def diff(old: PermissionSet | None, new: PermissionSet) -> PermissionDiff:
    """How `new` differs from `old` (None: a first version, everything it asks for is added)."""
    base = old or PermissionSet.build(memory_mib=new.memory_mib, timeout_ms=new.timeout_ms)
    added: dict[str, tuple[str, ...]] = {}
    removed: dict[str, tuple[str, ...]] = {}
    for kind in SET_KINDS:
        if kind == "paths":
            before, after = set(_path_items(base)), set(_path_items(new))
            # narrowing a path to read-only (same guest dir) is not "asking for more"
            narrowed = {
                f"{h} → {g}" for h, g in new.paths if not _rw(g) and (h, _guest_dir(g) + ":rw") in set(base.paths)
            }
        else:
            before, after = set(getattr(base, kind)), set(getattr(new, kind))
            narrowed = set()
        plus, minus = sorted(after - before - narrowed), sorted(before - after)
        if plus:
            added[kind] = tuple(plus)
        if minus:
            removed[kind] = tuple(minus)
    changed: dict[str, tuple[Any, Any]] = {}
    for kind in FLAG_KINDS:
        if getattr(base, kind) != getattr(new, kind):
            changed[kind] = (getattr(base, kind), getattr(new, kind))
    if old is not None:
        for kind in LIMIT_KINDS:
            if getattr(old, kind) != getattr(new, kind):
                changed[kind] = (getattr(old, kind), getattr(new, kind))
    return PermissionDiff(added, removed, changed)


# ---- host patterns and paths ----------------------------------------------------------------------

ANY_PORT = -1  # `host:*`


def split_host(pattern: str) -> tuple[str, int | None]:
    """`host`, `host:N` or `host:*` → (lowercase host, port or None or ANY_PORT)."""
    if pattern.endswith(":*"):
        return pattern[:-2].lower(), ANY_PORT
    host, _, port = pattern.rpartition(":") if re.search(r":\d+\Z", pattern) else (pattern, "", "")
    return host.lower(), int(port) if port else None


def host_covers(grant_pattern: str, target: str) -> bool:
    """Whether a host pattern (`example.com`, `*.example.com`, with an optional `:port`) covers
    `target` (a host, host:port, or another pattern)."""
    g_host, g_port = split_host(grant_pattern)
    t_host, t_port = split_host(target)
    if g_port is not None and g_port != ANY_PORT and g_port != t_port:
        return False
    if g_host == t_host:
        return True
    if g_host.startswith("*."):
        return t_host.endswith(g_host[1:])
    return False


def grant_covers_host(grant_pattern: str, requested: str) -> bool:
    """A granted host covers a requested one; a grant without a port covers a request for a
    specific (or any) port only when the user wrote that port: `127.0.0.1` does not grant
    `127.0.0.1:*`."""
    if split_host(grant_pattern)[1] is None and split_host(requested)[1] is not None:
        return False
    return host_covers(grant_pattern, requested)


def path_within(path: str, root: str) -> bool:
    p, r = Path(path).expanduser().resolve(), Path(root).expanduser().resolve()
    return p == r or r in p.parents


# ---- grants ---------------------------------------------------------------------------------------

GRANT_KEYS = (
    "hosts",
    "paths",
    "config",
    "host_functions",
    "memory_mib",
    "timeout_ms",
    "max_output_kib",
    "http_response_headers",
    "requested",
    "tools",
    "skip_tools",
)
ANY_PLUGIN = "*"


@dataclass(frozen=True)
class Grant:
    """What the user grants one plugin (or every plugin, under the name `*`)."""

    hosts: tuple[str, ...] = ()
    paths: dict[str, str] = field(default_factory=dict)  # host dir -> "ro" | "rw"
    config: dict[str, str] = field(default_factory=dict)  # key -> value (may hold ${VAR})
    host_functions: tuple[str, ...] = ()
    memory_mib: int | None = None
    timeout_ms: int | None = None
    #: the largest tool result this plugin may return (KiB); None = the host's global cap
    max_output_kib: int | None = None
    #: the plugin may read its HTTP responses' headers (when its plugin.yaml asks for it)
    http_response_headers: bool = False
    requested: bool = False
    #: which exports the MCP server offers as tools (globs over export names; empty: all of them),
    #: and which of those it does not (`skip_tools`): what the user exposes, not what the plugin may do
    tools: tuple[str, ...] = ()
    skip_tools: tuple[str, ...] = ()

    def offers(self, export: str) -> bool:
        """Whether the export `export` is offered as a tool under this grant's tool filters."""
        from fnmatch import fnmatchcase  # noqa: PLC0415

        if self.tools and not any(fnmatchcase(export, g) for g in self.tools):
            return False
        return not any(fnmatchcase(export, g) for g in self.skip_tools)

    def merge(self, other: Grant) -> Grant:
        """Both grants together (the other's caps win when both set one)."""
        return Grant(
            hosts=tuple(dict.fromkeys(self.hosts + other.hosts)),
            paths={**self.paths, **other.paths},
            config={**self.config, **other.config},
            host_functions=tuple(dict.fromkeys(self.host_functions + other.host_functions)),
            memory_mib=other.memory_mib if other.memory_mib is not None else self.memory_mib,
            timeout_ms=other.timeout_ms if other.timeout_ms is not None else self.timeout_ms,
            max_output_kib=other.max_output_kib if other.max_output_kib is not None else self.max_output_kib,
            http_response_headers=self.http_response_headers or other.http_response_headers,
            requested=self.requested or other.requested,
            tools=tuple(dict.fromkeys(self.tools + other.tools)),
            skip_tools=tuple(dict.fromkeys(self.skip_tools + other.skip_tools)),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "hosts": list(self.hosts),
            "paths": dict(self.paths),
            "config": sorted(self.config),
            "host_functions": list(self.host_functions),
        }
        if self.memory_mib is not None:
            d["memory_mib"] = self.memory_mib
        if self.timeout_ms is not None:
            d["timeout_ms"] = self.timeout_ms
        if self.max_output_kib is not None:
            d["max_output_kib"] = self.max_output_kib
        if self.http_response_headers:
            d["http_response_headers"] = True
        if self.requested:
            d["requested"] = True
        if self.tools:
            d["tools"] = list(self.tools)
        if self.skip_tools:
            d["skip_tools"] = list(self.skip_tools)
        return d


def grant_from_dict(doc: Any, where: str) -> Grant:
    """Validate one plugin's grant mapping; errors name `where` and the field."""
    if doc is True or doc == "requested":
        return Grant(requested=True)
    if not isinstance(doc, Mapping):
        raise GrantError(f"{where}: expected a mapping with {', '.join(GRANT_KEYS)}")
    unknown = sorted(set(doc) - set(GRANT_KEYS))
    if unknown:
        raise GrantError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(GRANT_KEYS)})")

    def str_list(key: str) -> tuple[str, ...]:
        value = doc.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise GrantError(f"{where}.{key}: expected a list of strings")
        return tuple(value)

    paths_doc = doc.get("paths") or {}
    if isinstance(paths_doc, list):
        paths_doc = {p: "ro" for p in paths_doc}
    if not isinstance(paths_doc, Mapping) or not all(v in ("ro", "rw") for v in paths_doc.values()):
        raise GrantError(f"{where}.paths: expected host directories mapped to ro or rw, e.g. {{/srv/data: ro}}")
    config_doc = doc.get("config") or {}
    if not isinstance(config_doc, Mapping):
        raise GrantError(f'{where}.config: expected a mapping of config key to value, e.g. {{api_key: "${{KEY}}"}}')
    caps: dict[str, int | None] = {}
    for key in ("memory_mib", "timeout_ms", "max_output_kib"):
        value = doc.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise GrantError(f"{where}.{key}: expected a positive integer")
        caps[key] = value
    requested = doc.get("requested", False)
    headers = doc.get("http_response_headers", False)
    for key, flag in (("requested", requested), ("http_response_headers", headers)):
        if not isinstance(flag, bool):
            raise GrantError(f"{where}.{key}: expected true or false")
    return Grant(
        hosts=str_list("hosts"),
        paths={str(k): str(v) for k, v in paths_doc.items()},
        config={str(k): "" if v is None else str(v) for k, v in config_doc.items()},
        host_functions=str_list("host_functions"),
        memory_mib=caps["memory_mib"],
        timeout_ms=caps["timeout_ms"],
        max_output_kib=caps["max_output_kib"],
        http_response_headers=headers,
        requested=requested,
        tools=str_list("tools"),
        skip_tools=str_list("skip_tools"),
    )


def grants_from_project(grants_doc: Mapping[str, Any], where: str) -> dict[str, Grant]:
    """The `grants:` section of an extism.yaml (as loaded by registry_static.project), checked."""
    return {str(n): grant_from_dict(g, f"{where}: grants.{n}") for n, g in grants_doc.items()}


def grant_for(grants: Mapping[str, Grant], plugin: str) -> Grant:
    """The plugin's own grant merged with the `*` grant."""
    grant = grants.get(ANY_PLUGIN, Grant())
    return grant.merge(grants[plugin]) if plugin in grants else grant


def uncovered(change: PermissionDiff, grant: Grant) -> PermissionDiff:
    """The part of `change` that asks for more and that `grant` does not already allow.

    `requested: true` covers everything; a host is covered by a granted pattern, a path by a granted
    directory containing it (rw needs an rw grant), a config key by a granted value, a host function
    by the granted groups/functions; a higher memory or time limit by a cap the user set (the plugin
    never runs above it). WASI cannot be granted in extism.yaml: turning it on needs
    `--accept-permissions` (or `requested: true`)."""
    wider = change.widening()
    if grant.requested or wider.empty:
        return PermissionDiff()
    granted_fns = allowed_imports(grant.host_functions)
    left: dict[str, tuple[str, ...]] = {}
    for kind, values in wider.added.items():
        if kind == "hosts":
            rest = [h for h in values if not any(grant_covers_host(g, h) for g in grant.hosts)]
        elif kind == "paths":
            rest = []
            for item in values:
                host_dir, _, guest = item.partition(" → ")
                modes = [m for d, m in grant.paths.items() if path_within(host_dir, d)]
                if not modes or (_rw(guest) and "rw" not in modes):
                    rest.append(item)
        elif kind == "config":
            rest = [k for k in values if k not in grant.config]
        else:
            rest = [f for f in values if not allowed_imports([f]) <= granted_fns]
        if rest:
            left[kind] = tuple(rest)
    changed = {
        k: v
        for k, v in wider.changed.items()
        if k == "wasi"
        or (k == "http_response_headers" and not grant.http_response_headers)
        or (k == "memory_mib" and grant.memory_mib is None)
        or (k == "timeout_ms" and grant.timeout_ms is None)
    }
    return PermissionDiff(left, {}, changed)


def grant_snippet(change: PermissionDiff) -> str:
    """What to add to the plugin's entry of extism.yaml `grants:` to cover `change`, e.g.
    `{hosts: [tiles.example], config: {token: VALUE}}` (config values are the user's to fill in)."""
    parts = []
    for kind, values in change.added.items():
        if kind == "paths":
            inner = ", ".join(
                f"{v.partition(' → ')[0]}: {'rw' if _rw(v.partition(' → ')[2]) else 'ro'}" for v in values
            )
            parts.append(f"paths: {{{inner}}}")
        elif kind == "config":
            parts.append("config: {" + ", ".join(f"{k}: VALUE" for k in values) + "}")
        else:
            parts.append(f"{kind}: [{', '.join(values)}]")
    for kind, (_, new) in change.changed.items():
        if kind in LIMIT_KINDS:
            parts.append(f"{kind}: {new}")
        elif kind == "http_response_headers" and new:
            parts.append("http_response_headers: true")
    return "{" + ", ".join(parts) + "}"
