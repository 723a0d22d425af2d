"""Discovery mode (`extism-mcp-server --registry URL` without `--plugin`): tools an agent uses to find
plugins in a registry and to enable or disable them for this server.

- `extism_search` — the registry's plugins (names from its verified TUF roles, details from each
  verified index file), filtered by a query, each marked with whether the user allows enabling it.
- `extism_describe` — one plugin: its tools with their schemas, the permissions it asks for, what the
  user's grants make of them, and its signature status (fetched and verified, then cached).
- `extism_enable` / `extism_disable` — add or remove a plugin's tools on this server; connected
  clients get `tools/list_changed`.

What the agent can never do: grant. Every capability still comes from the user's grants (`--config`,
`--grant`, or the user's `extism.yaml` in the platform config directory), and only plugins matching the
user's allow-list (`--allow PATTERN`, the file's `allow:`) or pinned by the user can be enabled. A
pattern is a glob over the plugin name, optionally with a semver range: `@acme/*`, `@acme/weather@^1`.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import jsonschema
import mcp_types as types

from extism_platform.grants import effective, grant_for
from extism_platform.host.runtime import Artifact
from extism_platform.mcp.calls import json_result, tool_error
from extism_platform.mcp.naming import tool_name
from extism_platform.mcp.tools import build_tools
from plugin_format.errors import ExtismPlatformError, SemverError
from plugin_format.semver import Range, Version

log = logging.getLogger("extism_platform.mcp.discovery")

SEARCH_TOOL, DESCRIBE_TOOL, ENABLE_TOOL, DISABLE_TOOL = (
    "extism_search",
    "extism_describe",
    "extism_enable",
    "extism_disable",
)
SEARCH_LIMIT = 50  # results per search (the agent narrows the query for more)
SCAN_LIMIT = 500  # index files read per search: a huge registry is searched by name beyond this


def split_spec(spec: str) -> tuple[str, str | None]:
    """`@acme/weather@^1` → (`@acme/weather`, `^1`); `@acme/*` → (`@acme/*`, None)."""
    at = spec.rfind("@")
    if at > 0:
        return spec[:at], spec[at + 1 :] or None
    return spec, None


@dataclass(frozen=True)
class AllowRule:
    """One allow-list entry: a name glob and an optional range the version must match."""

    pattern: str
    range: Range | None
    text: str

    @classmethod
    def parse(cls, text: str) -> AllowRule:
        name, rng = split_spec(text.strip())
        try:
            return cls(name, Range.parse(rng) if rng else None, text)
        except SemverError as exc:
            raise ExtismPlatformError(f"--allow {text!r}: {exc}") from None

    def matches(self, name: str, version: str | None = None) -> bool:
        if not fnmatch.fnmatchcase(name, self.pattern):
            return False
        if self.range is None or version is None:
            return True
        try:
            return self.range.matches(Version.parse(version))
        except SemverError:
            return False


def _tool(
    name: str, title: str, description: str, properties: dict[str, Any], required: list[str], *, read_only: bool
) -> types.Tool:
    return types.Tool(
        name=name,
        title=title,
        description=description,
        input_schema={"type": "object", "properties": properties, "required": required, "additionalProperties": False},
        annotations=types.ToolAnnotations(
            read_only_hint=read_only, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
    )


PLUGIN_ARG = {"type": "string", "description": "the plugin's name, e.g. @acme/weather"}
VERSION_ARG = {"type": "string", "description": "a version or semver range (default: the newest allowed)"}


@dataclass
class Discovery:
    """The discovery tools of one server over one registry.

    `fetch(name, range)` returns the verified artifact (the host's registry source: fetched, signature
    checked, cached); `client` is the registry client used for listings. `pinned` are the plugins the
    user asked for by name (`--plugin`, the user file's `plugins:`): always allowed, with their range."""

    url: str
    client: Any
    fetch: Callable[[str, str], Artifact]
    allow: list[AllowRule] = field(default_factory=list)
    pinned: dict[str, str] = field(default_factory=dict)
    #: plugins enabled through `extism_enable` (kept across `--watch` reloads)
    enabled: dict[str, Artifact] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- the tool table ---------------------------------------------------------------------

    def tools(self) -> list[types.Tool]:
        allowed = ", ".join(r.text for r in self.allow) or "none beyond the pinned plugins"
        return [
            _tool(
                SEARCH_TOOL,
                "Search the plugin registry",
                f"Search the registry {self.url} for Extism plugins by name, description, tag or tool. Returns "
                "each plugin's newest version, description, tool count and whether it may be enabled here.",
                {"query": {"type": "string", "description": "words to look for (empty: every plugin)"}},
                [],
                read_only=True,
            ),
            _tool(
                DESCRIBE_TOOL,
                "Describe a registry plugin",
                "One plugin from the registry: its tools (with input and output schemas), the permissions it "
                "asks for and what the user's grants allow, and its signature status (verified).",
                {"plugin": PLUGIN_ARG, "version": VERSION_ARG},
                ["plugin"],
                read_only=True,
            ),
            _tool(
                ENABLE_TOOL,
                "Enable a registry plugin",
                "Fetch a plugin from the registry, verify its signature, and serve its tools on this server "
                "(tools/list changes). Only plugins the user allows can be enabled "
                f"(allowed: {allowed}); the plugin gets only the capabilities the user granted.",
                {"plugin": PLUGIN_ARG, "version": VERSION_ARG},
                ["plugin"],
                read_only=False,
            ),
            _tool(
                DISABLE_TOOL,
                "Disable a plugin",
                "Stop serving a plugin's tools on this server (tools/list changes).",
                {"plugin": PLUGIN_ARG},
                ["plugin"],
                read_only=False,
            ),
        ]

    @property
    def names(self) -> frozenset[str]:
        return frozenset((SEARCH_TOOL, DESCRIBE_TOOL, ENABLE_TOOL, DISABLE_TOOL))

    # ---- policy -----------------------------------------------------------------------------

    def allowed(self, name: str, version: str | None = None) -> bool:
        if name in self.pinned:
            try:
                return version is None or Range.parse(self.pinned[name]).matches(Version.parse(version))
            except SemverError:
                return False
        return any(r.matches(name, version) for r in self.allow)

    def _range_for(self, name: str, asked: str | None) -> str:
        """The range to resolve: the agent's, else the pin's, else the first allow rule's, else any."""
        if asked:
            return asked
        if name in self.pinned:
            return self.pinned[name]
        for r in self.allow:
            if r.matches(name) and r.range is not None:
                return split_spec(r.text)[1] or "*"
        return "*"

    def _not_allowed(self, name: str) -> str:
        rules = ", ".join(repr(r.text) for r in self.allow) or "none"
        return (
            f"{name} is not on this server's allow-list (allowed: {rules}; pinned: "
            f"{', '.join(self.pinned) or 'none'}). Only the user can allow it: "
            f"extism-mcp-server --allow '{name}' (or `allow:` in their extism.yaml)."
        )

    # ---- the tools (blocking; run on a worker thread) ---------------------------------------

    def _summary(self, name: str, loaded: dict[str, Any]) -> dict[str, Any] | None:
        infos = [i for i in self.client.versions(name) if not i.yanked]
        if not infos:
            return None
        newest = max(infos, key=lambda i: i.semver)
        return {
            "name": name,
            "version": newest.version,
            "description": newest.description,
            "language": newest.language,
            "tags": list(newest.tags),
            "tools": sum(1 for e in newest.exports if e.get("input_schema")),
            "permissions": newest.permissions,
            "allowed": self.allowed(name),
            "enabled": name in loaded,
        }

    def search(self, query: str, loaded: dict[str, Any]) -> dict[str, Any]:
        words = query.lower().split()
        with self._lock:
            names = self.client.packages()
            out: list[dict[str, Any]] = []
            scanned = skipped = 0
            for name in names:
                if len(out) >= SEARCH_LIMIT:
                    break
                if scanned >= SCAN_LIMIT:  # past the scan budget, match by name only
                    if all(w in name for w in words):
                        out.append({"name": name, "allowed": self.allowed(name), "enabled": name in loaded})
                    continue
                scanned += 1
                try:
                    s = self._summary(name, loaded)
                except ExtismPlatformError as exc:
                    log.info("search: %s skipped: %s", name, exc)
                    skipped += 1
                    continue
                if s is None:
                    continue
                infos = self.client.versions(name)
                newest = max((i for i in infos if not i.yanked), key=lambda i: i.semver)
                text = " ".join(
                    [name, s["description"], s["language"], *s["tags"]]
                    + [f"{e.get('name', '')} {e.get('description', '')}" for e in newest.exports]
                ).lower()
                if all(w in text for w in words):
                    out.append(s)
        return {"registry": self.url, "query": query, "plugins": out, "unreadable": skipped}

    def describe(
        self, name: str, version: str | None, grants: dict[str, Any], loaded: dict[str, Any]
    ) -> dict[str, Any]:
        rng = self._range_for(name, version)
        with self._lock:
            info = self.client.resolve(name, rng)
        doc: dict[str, Any] = {
            "name": name,
            "version": info.version,
            "description": info.description,
            "license": info.license,
            "language": info.language,
            "published": info.published,
            "allowed": self.allowed(name, info.version),
            "enabled": name in loaded,
        }
        try:
            artifact = self.fetch(name, info.version)
            doc["signature"] = {
                "verified": True,
                "signed": artifact.signed,
                "trusted": artifact.trusted,
                "key_ids": list(artifact.key_ids),
                "sha256": artifact.sha256,
            }
            exports, requested = artifact.info.exports, artifact.info.permissions
        except ExtismPlatformError as exc:
            doc["signature"] = {"verified": False, "error": str(exc)}
            return doc
        eff = effective(name, requested, grant_for(grants, name))
        doc["tools"] = [
            {
                "name": tool_name(name, e.name),
                "export": e.name,
                "description": e.description,
                "input_schema": e.input_schema,
                "output_schema": e.output_schema,
            }
            for e in exports
            if e.input_schema is not None
        ]
        doc["requested"] = requested.to_dict()
        doc["granted"] = eff.to_dict()
        doc["denied"] = [d.to_dict() for d in eff.decisions if not d.allowed]
        return doc

    def resolve_allowed(self, name: str, version: str | None) -> Artifact:
        """The verified artifact to enable, or an error saying why not (never a grant)."""
        if not self.allowed(name):
            raise ExtismPlatformError(self._not_allowed(name))
        rng = self._range_for(name, version)
        with self._lock:
            info = self.client.resolve(name, rng)
        if not self.allowed(name, info.version):
            raise ExtismPlatformError(f"{name}@{info.version}: that version is not allowed. " + self._not_allowed(name))
        return self.fetch(name, info.version)


async def call(server: Any, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
    """Run one discovery tool for `server` (an `ExtismMCPServer` with `discovery` set)."""
    disc: Discovery = server.discovery
    schema = next(t.input_schema for t in disc.tools() if t.name == name)
    problems = list(jsonschema.Draft202012Validator(schema).iter_errors(arguments))
    if problems:
        return tool_error(f"invalid arguments for {name}: " + "; ".join(p.message for p in problems[:5]))
    host = server.host
    try:
        if name == SEARCH_TOOL:
            return json_result(await anyio.to_thread.run_sync(disc.search, arguments.get("query", ""), host.plugins))
        if name == DESCRIBE_TOOL:
            doc = await anyio.to_thread.run_sync(
                disc.describe, arguments["plugin"], arguments.get("version"), host.grants, host.plugins
            )
            return json_result(doc)
        plugin = arguments["plugin"]
        async with server.reload_lock:  # one plugin-set change at a time, reloads included
            if name == ENABLE_TOOL:
                artifact = await anyio.to_thread.run_sync(disc.resolve_allowed, plugin, arguments.get("version"))
                current = [p.artifact for n, p in host.plugins.items() if n != plugin]
                plugins = host.plan([*current, artifact])
                await anyio.to_thread.run_sync(plugins[plugin].warm)  # a module that does not compile is refused here
                disc.enabled[plugin] = artifact
            else:
                if plugin not in host.plugins:
                    return tool_error(f"{plugin} is not enabled (enabled: {', '.join(sorted(host.plugins)) or 'none'})")
                plugins = {n: p for n, p in host.plugins.items() if n != plugin}
                disc.enabled.pop(plugin, None)
            before = server.mcp_tools()
            tools = build_tools(host, only=server.only, skip=server.skip, plugins=plugins)
            changes = host.swap(plugins)
            server.tools = tools
            if server.mcp_tools() != before:
                await server.notify_tools_changed()
        loaded = host.plugins.get(plugin)
        doc = {
            "plugin": plugin,
            "enabled": loaded is not None,
            "changes": str(changes),
            "tools": sorted(t.name for t in server.tools.values() if t.plugin.name == plugin),
        }
        if loaded is not None:
            doc["version"] = loaded.version
            doc["granted"] = loaded.effective.to_dict()
            doc["denied"] = [d.to_dict() for d in loaded.effective.decisions if not d.allowed]
        return json_result(doc)
    except ExtismPlatformError as exc:
        return tool_error(str(exc))


def discovery_from_args(
    url: str,
    *,
    allow: list[str],
    pinned: dict[str, str],
    token_env: str | None,
    token_env_label: str,
    keys: list[Any],
    allow_unsigned: bool,
) -> Discovery:
    """A `Discovery` over the registry at `url`, fetching through the host's registry source; the
    token comes from `$token_env` (named `token_env_label` in messages), else the client's defaults."""
    from extism_platform.host import sources  # noqa: PLC0415
    from registry_static.client import RegistryClient  # noqa: PLC0415

    client = RegistryClient(url, token_env=token_env, token_env_label=token_env_label)

    def fetch(name: str, version: str) -> Artifact:
        (artifact,) = sources.from_registry(
            url,
            [f"{name}@{version}"],
            token_env=token_env,
            token_env_label=token_env_label,
            keys=keys,
            allow_unsigned=allow_unsigned,
        )
        return artifact

    rules = [AllowRule.parse(a) for a in allow]
    client.updater()  # read the registry's trust metadata now: an unreachable registry fails the start
    return Discovery(url, client, fetch, rules, dict(pinned))
