"""The tool table: one `PluginTool` per schema'd export of the loaded plugins (named by
`naming.tool_name`), built from manifests only, and the built-in `extism_plugins` tool.

Whether each schema can be used is decided here, at load (`schemas.input_usable` /
`output_usable`: an export whose input schema is unusable is no tool, an unusable output schema is
not served); the validators themselves are built by a tool's first call.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from extism_platform.host.runtime import Host, LoadedPlugin
from extism_platform.mcp import schemas
from extism_platform.mcp.naming import tool_name
from plugin_format.errors import RunError
from plugin_format.manifest import Export
from plugin_format.permissions import Grant, grant_for

log = logging.getLogger("extism_platform.mcp")

LIST_PLUGINS_TOOL = "extism_plugins"
LIST_PLUGINS_OUTPUT = {
    "type": "object",
    "properties": {"plugins": {"type": "array", "items": {"type": "object"}}},
    "required": ["plugins"],
}


@dataclass(frozen=True)
class PluginTool:
    name: str
    plugin: LoadedPlugin
    export: Export
    #: its output_schema is usable (`schemas.output_usable`): served, and every output checked against it
    has_output_schema: bool

    @functools.cached_property
    def input_validator(self) -> Any:
        """Built on the first call (the schema was found usable at load; `SchemaError` if not)."""
        return schemas.validator(self.export.input_schema or {"type": "object"})

    @functools.cached_property
    def output_validator(self) -> Any | None:
        return schemas.validator(self.export.output_schema or {}) if self.has_output_schema else None

    @property
    def input_schema(self) -> dict[str, Any]:
        """The schema `tools/list` shows for the arguments."""
        return self.export.input_schema or {"type": "object"}

    def to_mcp(self) -> types.Tool:
        exp, info = self.export, self.plugin.info
        description = exp.description or f"{info.description} ({exp.name})".strip()
        return types.Tool(
            name=self.name,
            title=f"{info.name} {exp.name}",
            description=description,
            input_schema=self.input_schema,
            output_schema=exp.output_schema if self.has_output_schema else None,
            annotations=schemas.tool_annotations(info.permissions, exp),
            icons=plugin_icons(self.plugin),
        )


#: icon sources a client may be handed: https URLs and inline images (never file:, javascript:, …)
_ICON_SRC = re.compile(r"^(https://\S+|data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]+)$")


def plugin_icons(plugin: LoadedPlugin) -> list[types.Icon] | None:
    """plugin.yaml's `icons:` as MCP icons (None when it has none); plugin.json is signed but checked
    again here: a source that is not https or an inline image is left out."""
    icons = [
        types.Icon(src=i["src"], mime_type=i.get("mime_type"), sizes=i.get("sizes"), theme=i.get("theme"))
        for i in plugin.info.icons
        if _ICON_SRC.match(i["src"]) and i.get("theme") in (None, "light", "dark")
    ]
    return icons or None


def _matches(patterns: Iterable[str], tool: PluginTool) -> bool:
    return any(fnmatch.fnmatchcase(tool.name, p) or fnmatch.fnmatchcase(tool.plugin.name, p) for p in patterns)


def build_tools(
    host: Host,
    *,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    plugins: Mapping[str, LoadedPlugin] | None = None,
    grants: Mapping[str, Grant] | None = None,
) -> dict[str, PluginTool]:
    """The tool table of the host's plugins (or of `plugins`, a set not installed yet), from
    manifests only (no wasm is compiled here). A plugin's grant (in `grants`, default the host's)
    may narrow which of its exports are tools (`tools` / `skip_tools`), as `only` / `skip` do
    across plugins."""
    tools: dict[str, PluginTool] = {}
    for plugin in (host.plugins if plugins is None else plugins).values():
        grant = grant_for(
            host.grants if grants is None else grants, plugin.name
        )  # its `tools` / `skip_tools` filters, from the user
        for exp in plugin.info.exports:
            if exp.input_schema is None or not grant.offers(exp.name):
                continue
            if exp.input_schema.get("type", "object") != "object":
                log.warning(
                    "%s: export %s: input_schema is not an object schema; not offered as a tool", plugin.name, exp.name
                )
                continue
            if not schemas.input_usable(plugin.name, exp):  # in the dialect its $schema names
                continue
            tool = PluginTool(
                tool_name(plugin.name, exp.name),
                plugin,
                exp,
                schemas.output_usable(plugin.name, exp),  # unusable: a warning naming plugin and export
            )
            if only and not _matches(only, tool):
                continue
            if skip and _matches(skip, tool):
                continue
            other = tools.get(tool.name)
            if other is not None and other.plugin is not plugin:
                # Not a silent take-over: the user must choose (names are validated at load, so
                # this needs a hand-made plugin.json; refuse rather than guess which one is meant).
                raise RunError(
                    f"plugins {other.plugin.name} ({other.plugin.artifact.source}) and {plugin.name} "
                    f"({plugin.artifact.source}) both make the tool {tool.name}; load only one of them"
                )
            tools[tool.name] = tool
    return tools


def list_plugins_tool() -> types.Tool:
    """The built-in tool that lists the loaded plugins (`describe_plugins`)."""
    return types.Tool(
        name=LIST_PLUGINS_TOOL,
        title="Installed Extism plugins",
        description="List the loaded plugins: version, sha256, source, signature status, the permissions "
        "each asks for and what it was granted, and its tools. Read-only.",
        input_schema={
            "type": "object",
            "properties": {"plugin": {"type": "string", "description": "only this plugin (e.g. @acme/weather)"}},
        },
        output_schema=LIST_PLUGINS_OUTPUT,
        annotations=types.ToolAnnotations(
            read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )


def describe_plugins(host: Host, tools: Mapping[str, PluginTool], only: str | None = None) -> list[dict[str, Any]]:
    """What `extism_plugins` answers (and `--list --json` prints): each loaded plugin (or only the one
    named), its provenance, permissions asked for and granted, and its tools."""
    from registry_static.redact import redact_text  # noqa: PLC0415

    out = []
    for p in host.plugins.values():
        if only and p.name != only:
            continue
        a = p.artifact
        out.append(
            {
                "name": p.name,
                "version": p.version,
                "description": p.info.description,
                "sha256": p.sha256,
                "source": redact_text(a.source),  # a registry URL's credentials are never shown
                "signed": a.signed,
                "trusted": a.trusted,
                "tools": sorted(t.name for t in tools.values() if t.plugin is p),
                "requested": p.info.permissions.to_dict(),
                "effective": p.effective.to_dict(),
                "denied": [d.to_dict() for d in p.effective.decisions if not d.allowed],
                "compiled": p.compiled,
                # the plugins linked into it as wasm modules (plugin.yaml `dependencies:`)
                "linked": [
                    {"name": d.info.name, "version": d.info.version, "sha256": d.sha256, "signed": d.signed}
                    for d in a.deps
                ],
            }
        )
    return out
