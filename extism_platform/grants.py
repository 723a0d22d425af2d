"""Grants: what the user allows each plugin, and the effective permissions a plugin runs with.

A plugin *requests* capabilities in plugin.yaml (`permissions:`); the user *grants* a subset in
extism.yaml (`grants:`) or with `--grant` options. What a plugin gets is the intersection, and
anything else is denied by default:

```yaml
grants:
  "@acme/weather":
    hosts: [api.weather.example]            # hosts (or *.domain patterns) it may reach over HTTP
    config: {api_key: "${WEATHER_KEY}"}     # values of the config keys it asked for; ${VAR} = env
    paths: {/srv/data: ro}                  # host dirs it may see (ro or rw), if it asked for them
    host_functions: [kv, log]               # host-function groups (or single functions)
    memory_mib: 16                          # caps (lower the plugin's own request, never raise it)
    timeout_ms: 5000
    max_output_kib: 1024                    # the largest result it may return (default: the server's cap)
    tools: ["get_*"]                        # which exports the MCP server offers as tools (default: all)
    skip_tools: [get_debug]                 # and which of those it does not
  "@acme/units": {requested: true}          # everything it asked for (config values still needed)
```
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugin_format.errors import GrantError
from plugin_format.host_functions import GROUPS, allowed_imports
from plugin_format.manifest import Permissions
from plugin_format.permissions import (  # the grant model lives in the core: install's permission gate uses it too
    ANY_PLUGIN,
    ANY_PORT,
    GRANT_KEYS,
    Grant,
    grant_covers_host,
    grant_for,
    grant_from_dict,
    grants_from_project,
    host_covers,
    path_within,
    split_host,
)

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def grant_hint(plugin: str, capability: str, value: str) -> str:
    """How to grant `capability` `value` to `plugin`, in both forms (extism.yaml and --grant)."""
    yaml_part, option = {
        "host": (f"hosts: [{value}]", f"host={value}"),
        "path": (f"paths: {{{value}: ro}}", f"path={value}"),
        "config": (f"config: {{{value}: VALUE}}", f"config.{value}=VALUE"),
        "host_function": (f"host_functions: [{value}]", f"host_function={value}"),
        "http_response_headers": ("http_response_headers: true", "http_response_headers=true"),
    }[capability]
    return f"grant it in extism.yaml (grants: {{\"{plugin}\": {{{yaml_part}}}}}) or with --grant '{plugin}:{option}'"


#: capability → the plugin.yaml `permissions.<field>` that declares it
PLUGIN_YAML_FIELD = {
    "host": "hosts",
    "path": "paths",
    "config": "config",
    "host_function": "host_functions",
    "http_response_headers": "http_response_headers",
}


def undeclared_hint(plugin: str, capability: str, value: str) -> str:
    """Why a capability the plugin never asked for cannot be granted by the user."""
    field_name = PLUGIN_YAML_FIELD[capability]
    return (
        f"it does not declare {value} in plugin.yaml permissions.{field_name} "
        "(its author must add it, then you grant it)"
    )


@dataclass(frozen=True)
class Hints:
    """How denial messages tell the user to get a capability: `grant` for one the plugin asked
    for, `undeclared` for one it did not. The server's are extism.yaml / --grant; the author
    commands (`extism-plugin test`, `call`) pass their own (plugin.yaml, --allow-host, --config)."""

    grant: Callable[[str, str, str], str] = grant_hint
    undeclared: Callable[[str, str, str], str] = undeclared_hint


def load_grants(path: Path) -> dict[str, Grant]:
    """The `grants:` section of an extism.yaml, read by the one extism.yaml parser
    (`registry_static.project`); an absent section grants nothing."""
    from registry_static.project import load_project

    project = load_project(path)
    return grants_from_project(project.grants, project.path.name)


def parse_grant_option(text: str) -> tuple[str, Grant]:
    """`PLUGIN:KEY=VALUE` (or `PLUGIN:requested`) → (plugin, grant).

    Keys: host, path (DIR or DIR:rw), config.NAME, host_function, memory_mib, timeout_ms, max_output_kib,
    http_response_headers (=true), tools / skip_tools (=GLOB over export names: which become MCP tools);
    PLUGIN may be `*` for every plugin."""
    plugin, sep, rest = text.partition(":")
    usage = (
        "expected PLUGIN:KEY=VALUE, e.g. '@acme/weather:host=api.weather.example', "
        "'@acme/weather:config.api_key=XYZ', '@acme/weather:host_function=kv', '*:requested'"
    )
    if not sep or not plugin or not rest:
        raise GrantError(f"--grant {text!r}: {usage}")
    if rest == "requested":
        return plugin, Grant(requested=True)
    key, eq, value = rest.partition("=")
    if not eq:
        raise GrantError(f"--grant {text!r}: {usage}")
    if key == "host" and value:
        return plugin, Grant(hosts=(value,))
    if key == "path" and value:
        mode = "rw" if value.endswith(":rw") else "ro"
        return plugin, Grant(paths={value.removesuffix(":rw").removesuffix(":ro"): mode})
    if key.startswith("config.") and len(key) > 7:
        return plugin, Grant(config={key[7:]: value})
    if key == "host_function" and value:
        return plugin, Grant(host_functions=(value,))
    if key in ("tools", "skip_tools") and value:
        return plugin, Grant(tools=(value,)) if key == "tools" else Grant(skip_tools=(value,))
    if key == "http_response_headers":
        if value not in ("true", "false"):
            raise GrantError(f"--grant {text!r}: http_response_headers is true or false")
        return plugin, Grant(http_response_headers=value == "true")
    if key in ("memory_mib", "timeout_ms", "max_output_kib"):
        if not value.isdigit() or int(value) < 1:
            raise GrantError(f"--grant {text!r}: {key} must be a positive integer")
        n = int(value)
        if key == "memory_mib":
            return plugin, Grant(memory_mib=n)
        return plugin, Grant(timeout_ms=n) if key == "timeout_ms" else Grant(max_output_kib=n)
    raise GrantError(f"--grant {text!r}: unknown key {key!r}; {usage}")


def combine(*sources: Mapping[str, Grant]) -> dict[str, Grant]:
    out: dict[str, Grant] = {}
    for source in sources:
        for name, grant in source.items():
            out[name] = out[name].merge(grant) if name in out else grant
    return out


def grants_from_options(options: Iterable[str]) -> dict[str, Grant]:
    out: dict[str, Grant] = {}
    for text in options:
        name, grant = parse_grant_option(text)
        out[name] = out[name].merge(grant) if name in out else grant
    return out


# ---- host patterns ------------------------------------------------------------------------------


DEFAULT_PORTS = {"http": 80, "https": 443}


def host_allowed(patterns: Iterable[str], host: str, port: int | None, scheme: str = "https") -> bool:
    """Whether a URL's host and port are covered by one of the effective patterns. The port is part
    of the grant: a pattern without one covers only the scheme's default port (80, 443), `host:N`
    that port, `host:*` any port; so a grant of `api.example` does not reach `api.example:8080`."""
    effective_port = port if port is not None else DEFAULT_PORTS.get(scheme, 443)
    for p in patterns:
        p_host, p_port = split_host(p)
        wanted = DEFAULT_PORTS.get(scheme, 443) if p_port is None else p_port
        if wanted != ANY_PORT and wanted != effective_port:
            continue
        if host_covers(p_host, host):
            return True
    return False


# ---- effective permissions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One capability decision, as written to the audit log."""

    capability: str  # host | path | config | host_function | memory_mib | timeout_ms
    value: str
    allowed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "capability": self.capability,
            "value": self.value,
            "decision": "allowed" if self.allowed else "denied",
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Effective:
    """What a plugin actually runs with."""

    plugin: str
    hosts: tuple[str, ...]
    paths: dict[str, str]  # host dir -> guest dir (Extism `allowed_paths`; `ro:` prefix = read-only)
    config: dict[str, str]
    host_functions: frozenset[str]  # function names in extism:host/user
    memory_mib: int
    timeout_ms: int
    requested: Permissions
    #: the user's cap on this plugin's result size (KiB), None = the host's global cap
    max_output_kib: int | None = None
    decisions: tuple[Decision, ...] = ()
    #: the plugin may read HTTP response headers (requested and granted)
    http_response_headers: bool = False
    #: requested config keys without a value -> why ("" = not granted; else e.g. an unset ${VAR})
    missing_config: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "hosts": list(self.hosts),
            "paths": dict(self.paths),
            "config": sorted(self.config),
            "host_functions": sorted(self.host_functions),
            "memory_mib": self.memory_mib,
            "timeout_ms": self.timeout_ms,
            **({"http_response_headers": True} if self.http_response_headers else {}),
        }


def _expand_env(value: str) -> tuple[str | None, list[str]]:
    missing = [m for m in _ENV_REF.findall(value) if m not in os.environ]
    if missing:
        return None, missing
    return _ENV_REF.sub(lambda m: os.environ[m.group(1)], value), []


def effective(plugin: str, requested: Permissions, grant: Grant) -> Effective:
    """Intersect what the plugin asks for with what the user grants; every request gets a decision."""
    decisions: list[Decision] = []
    hosts: list[str] = []
    for h in requested.hosts:
        ok = grant.requested or any(grant_covers_host(g, h) for g in grant.hosts)
        decisions.append(Decision("host", h, ok, "granted" if ok else "requested but not granted"))
        if ok:
            hosts.append(h)
    paths: dict[str, str] = {}
    for host_dir, guest in requested.paths.items():
        want_rw = guest.endswith(":rw")
        guest_dir = guest.removesuffix(":rw").removesuffix(":ro")
        modes = [m for d, m in grant.paths.items() if path_within(host_dir, d)]
        if grant.requested:
            modes.append("rw" if want_rw else "ro")
        if not modes:
            decisions.append(Decision("path", host_dir, False, "requested but not granted"))
            continue
        rw = want_rw and "rw" in modes
        if want_rw and not rw:
            decisions.append(Decision("path", f"{host_dir} (write)", False, "granted read-only"))
        decisions.append(Decision("path", host_dir, True, "granted " + ("rw" if rw else "ro")))
        resolved = str(Path(host_dir).expanduser().resolve())
        paths[resolved if rw else "ro:" + resolved] = guest_dir
    config: dict[str, str] = {}
    missing: dict[str, str] = {}
    for key in requested.config:
        if key not in grant.config:
            decisions.append(Decision("config", key, False, "requested but no value granted"))
            missing[key] = ""
            continue
        value, unset = _expand_env(grant.config[key])
        if value is None:
            decisions.append(Decision("config", key, False, f"granted from ${{{unset[0]}}}, which is not set"))
            missing[key] = f"set the environment variable {unset[0]} (its grant reads ${{{unset[0]}}})"
            continue
        decisions.append(Decision("config", key, True, "granted"))
        config[key] = value
    fn_names: set[str] = set()
    granted_fns = allowed_imports(grant.host_functions)
    for item in requested.host_functions:
        names = allowed_imports([item])
        ok = grant.requested or names <= granted_fns
        decisions.append(Decision("host_function", item, ok, "granted" if ok else "requested but not granted"))
        if ok:
            fn_names |= names
    headers = requested.http_response_headers and (grant.requested or grant.http_response_headers)
    if requested.http_response_headers:
        reason = "granted" if headers else "requested but not granted"
        decisions.append(Decision("http_response_headers", "true", headers, reason))
    memory = min(requested.memory_mib, grant.memory_mib or requested.memory_mib)
    timeout = min(requested.timeout_ms, grant.timeout_ms or requested.timeout_ms)
    limits = (("memory_mib", memory, requested.memory_mib), ("timeout_ms", timeout, requested.timeout_ms))
    for cap, limit, asked in limits:
        decisions.append(Decision(cap, str(limit), True, "requested" if limit == asked else "capped by grant"))
    return Effective(
        plugin,
        tuple(hosts),
        paths,
        config,
        frozenset(fn_names),
        memory,
        timeout,
        requested,
        max_output_kib=grant.max_output_kib,
        decisions=tuple(decisions),
        http_response_headers=headers,
        missing_config=missing,
    )


def group_of(function: str) -> str | None:
    """The catalogue group a host function belongs to."""
    return next((g for g, fns in GROUPS.items() if function in fns), None)


__all__ = [
    "ANY_PLUGIN",
    "GRANT_KEYS",
    "Decision",
    "Effective",
    "Grant",
    "Hints",
    "combine",
    "effective",
    "grant_for",
    "grant_from_dict",
    "grant_hint",
    "grants_from_options",
    "grants_from_project",
    "group_of",
    "host_allowed",
    "host_covers",
    "load_grants",
    "parse_grant_option",
    "undeclared_hint",
]
