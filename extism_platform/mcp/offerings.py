"""What the server offers beside tools: MCP resources and prompts.

- Every plugin's docs are a resource, `extism://plugins/<name>` (Markdown: what it does, its
  tools with their input schemas, the permissions it asks for and those granted).
- plugin.yaml `resources:` are served as declared: fixed `text` or base64 `blob` (in plugin.json, so
  signed with the plugin), or an export's output (as text when its `mime_type` is textual, else
  as a blob), read with the plugin's granted permissions (its input is JSON
  `{"uri": …}`; audited like a tool call, as `resource:<uri>`).
- plugin.yaml `resource_templates:` (URIs with `{name}` parts, one path segment each) are read
  from an export, whose input is JSON `{"uri": …, "params": {name: value}}`.
- plugin.yaml `prompts:` are served as declared, their `{argument}` placeholders filled in from
  the client's arguments (a required one missing, or one not declared: -32602); an argument's
  `values:` are what completion/complete offers for it.

Resource URIs and prompt names are the plugin's own (a prompt or resource is written for MCP, a tool
name is derived from an export's); when two plugins declare the same one, the first plugin by name
keeps it and the server warns, naming both.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from extism_platform.host.runtime import LoadedPlugin
from extism_platform.mcp.calls import ToolCalls
from extism_platform.mcp.tools import PluginTool, plugin_icons
from plugin_format.errors import PluginCallError
from plugin_format.manifest import fill_prompt, match_template, template_problem

log = logging.getLogger("extism_platform.mcp")

DOCS_SCHEME = "extism://plugins/"
DEFAULT_MIME = "text/plain"
BLOB_MIME = "application/octet-stream"


def docs_uri(plugin: str) -> str:
    return DOCS_SCHEME + plugin


@dataclass(frozen=True)
class PluginResource:
    uri: str
    plugin: LoadedPlugin
    decl: dict[str, Any]  # plugin.yaml's entry ({} for the docs resource)

    def to_mcp(self) -> types.Resource:
        if not self.decl:
            return types.Resource(
                uri=self.uri,
                name=f"{self.plugin.name} docs",
                title=f"{self.plugin.name} {self.plugin.version}",
                description=f"What {self.plugin.name} does, its tools and their permissions",
                mime_type=self.mime_type,
                icons=plugin_icons(self.plugin),
            )
        return types.Resource(
            uri=self.uri,
            name=self.decl["name"],
            title=self.decl.get("title"),
            description=self.decl.get("description") or f"{self.decl['name']} ({self.plugin.name})",
            mime_type=self.mime_type,
            icons=plugin_icons(self.plugin),
        )

    @property
    def mime_type(self) -> str:
        """What resources/list shows and resources/read sends (a fixed blob: binary unless it says)."""
        if not self.decl:
            return "text/markdown"
        return str(self.decl.get("mime_type", BLOB_MIME if "blob" in self.decl else DEFAULT_MIME))


@dataclass(frozen=True)
class PluginTemplate:
    plugin: LoadedPlugin
    decl: dict[str, Any]

    def to_mcp(self) -> types.ResourceTemplate:
        return types.ResourceTemplate(
            uri_template=self.decl["uri_template"],
            name=self.decl["name"],
            title=self.decl.get("title"),
            description=self.decl.get("description") or f"{self.decl['name']} ({self.plugin.name})",
            mime_type=self.decl.get("mime_type", DEFAULT_MIME),
            icons=plugin_icons(self.plugin),
        )


@dataclass(frozen=True)
class PluginPrompt:
    plugin: LoadedPlugin
    decl: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.decl["name"])

    def to_mcp(self) -> types.Prompt:
        return types.Prompt(
            name=self.name,
            title=self.decl.get("title"),
            description=self.decl.get("description") or f"{self.name} ({self.plugin.name})",
            arguments=[
                types.PromptArgument(name=a["name"], description=a.get("description"), required=bool(a.get("required")))
                for a in self.decl.get("arguments") or ()
            ],
            icons=plugin_icons(self.plugin),
        )

    def get(self, arguments: dict[str, str] | None) -> types.GetPromptResult:
        given = dict(arguments or {})
        declared = {a["name"]: a for a in self.decl.get("arguments") or ()}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"prompt {self.name!r} has no argument {unknown[0]!r} "
                f"(it takes: {', '.join(declared) or 'none'})",
            )
        missing = [n for n, a in declared.items() if a.get("required") and n not in given]
        if missing:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"prompt {self.name!r} needs the argument(s) {', '.join(missing)}",
            )
        values = {k: str(v) for k, v in given.items()}
        return types.GetPromptResult(
            description=self.decl.get("description"),
            messages=[
                types.PromptMessage(role=m["role"], content=types.TextContent(text=fill_prompt(m["text"], values)))
                for m in self.decl["messages"]
            ],
        )


def _first_wins(kind: str, key: str, owner: dict[str, str], plugin: str) -> bool:
    if key in owner:
        log.warning("%s %r of %s is also declared by %s, which keeps it", kind, key, plugin, owner[key])
        return False
    owner[key] = plugin
    return True


def _claimed(
    plugins: Iterable[LoadedPlugin],
    field: str,
    key: str,
    kind: str,
    usable: Callable[[dict[str, Any]], bool],
    owner: dict[str, str] | None = None,
) -> Iterator[tuple[LoadedPlugin, str, dict[str, Any]]]:
    """(plugin, key, declaration) of each usable entry of `PluginInfo.<field>`, plugins in the order
    given; a key (`decl[key]`) an earlier plugin, or `owner`, holds is skipped with a warning."""
    owner = {} if owner is None else owner
    for p in plugins:
        for decl in getattr(p.info, field):
            k = decl.get(key)
            if isinstance(k, str) and usable(decl) and _first_wins(kind, k, owner, p.name):
                yield p, k, decl


@dataclass(frozen=True)
class Offerings:
    """The resources, resource templates and prompts of one set of plugins (by plugin name: a
    URI, template or prompt name two declare is the first one's)."""

    plugins: tuple[LoadedPlugin, ...]
    resources: dict[str, PluginResource]
    templates: list[PluginTemplate]
    prompts: dict[str, PluginPrompt]

    @classmethod
    def of(cls, plugins: Iterable[LoadedPlugin]) -> Offerings:
        given = tuple(plugins)
        ordered = sorted(given, key=lambda p: p.name)
        # the docs first: a plugin cannot take another's docs URI
        resources = {docs_uri(p.name): PluginResource(docs_uri(p.name), p, {}) for p in ordered}
        owner = {uri: r.plugin.name for uri, r in resources.items()}
        for p, uri, decl in _claimed(
            ordered, "resources", "uri", "resource", lambda d: isinstance(d.get("name"), str), owner
        ):
            resources[uri] = PluginResource(uri, p, decl)
        templates = [
            PluginTemplate(p, decl)
            for p, _, decl in _claimed(
                ordered,
                "resource_templates",
                "uri_template",
                "resource template",
                lambda d: (
                    isinstance(d.get("export"), str) and bool(d.get("name")) and not template_problem(d["uri_template"])
                ),
            )
        ]
        prompts = {
            name: PluginPrompt(p, decl)
            for p, name, decl in _claimed(
                ordered, "prompts", "name", "prompt", lambda d: isinstance(d.get("messages"), list)
            )
        }
        return cls(given, resources, templates, prompts)

    def same_plugins(self, plugins: Iterable[LoadedPlugin]) -> bool:
        """Whether `plugins` are the very plugins these were built from (a reload replaces each
        plugin whose build or grant changed)."""
        now = tuple(plugins)
        return len(now) == len(self.plugins) and all(a is b for a, b in zip(now, self.plugins, strict=True))

    def template_for(self, uri: str) -> tuple[PluginTemplate, dict[str, str]] | None:
        """The first template matching `uri`, with its parts' values."""
        for t in self.templates:
            params = match_template(t.decl["uri_template"], uri)
            if params is not None:
                return t, params
        return None


def plugin_docs(plugin: LoadedPlugin, tools: Iterable[PluginTool]) -> str:
    """The docs resource's Markdown."""
    info = plugin.info
    lines = [f"# {plugin.name} {plugin.version}", ""]
    if info.description:
        lines += [info.description, ""]
    mine = sorted((t for t in tools if t.plugin is plugin), key=lambda t: t.name)
    lines += ["## Tools", ""]
    if not mine:
        lines += ["(none)", ""]
    for t in mine:
        lines += [f"### `{t.name}`", "", t.export.description or "(no description)", ""]
        lines += ["Arguments (JSON Schema):", "", "```json", json.dumps(t.input_schema, indent=2), "```", ""]
    requested = info.permissions.to_dict()
    granted = plugin.effective.to_dict()
    lines += ["## Permissions", "", "| | asked for | granted |", "|---|---|---|"]
    for key in requested:
        lines.append(f"| {key} | `{json.dumps(requested[key])}` | `{json.dumps(granted.get(key))}` |")
    lines.append("")
    return "\n".join(lines)


def textual(mime: str) -> bool:
    """Whether content of this MIME type is sent as text (else as a base64 blob)."""
    base = mime.split(";", 1)[0].strip().lower()
    return (
        base.startswith("text/")
        or base.endswith(("+json", "+xml", "+yaml"))
        or base in {"application/json", "application/xml", "application/yaml", "application/javascript"}
    )


def _contents(uri: str, mime: str, data: bytes) -> types.ReadResourceResult:
    content: types.TextResourceContents | types.BlobResourceContents
    if textual(mime):
        content = types.TextResourceContents(uri=uri, mime_type=mime, text=data.decode("utf-8", errors="replace"))
    else:
        content = types.BlobResourceContents(uri=uri, mime_type=mime, blob=base64.b64encode(data).decode("ascii"))
    return types.ReadResourceResult(contents=[content])


async def _from_export(
    plugin: LoadedPlugin, export: str, uri: str, data: dict[str, Any], calls: ToolCalls, ctx: Any
) -> bytes:
    try:
        return await calls.run_export(ctx, plugin, export, json.dumps(data).encode(), f"resource:{uri}")
    except PluginCallError as exc:
        raise MCPError(code=types.INTERNAL_ERROR, message=f"resource {uri}: {exc}") from None


async def read_templated(
    template: PluginTemplate, uri: str, params: dict[str, str], calls: ToolCalls, ctx: Any
) -> types.ReadResourceResult:
    out = await _from_export(template.plugin, template.decl["export"], uri, {"uri": uri, "params": params}, calls, ctx)
    return _contents(uri, template.decl.get("mime_type", DEFAULT_MIME), out)


#: the most values one completion answer carries (the spec's limit)
MAX_COMPLETIONS = 100


def complete(prompts: dict[str, PluginPrompt], params: types.CompleteRequestParams) -> types.CompleteResult:
    """The values a prompt argument declares (`values:`) that start with what was typed
    (case-insensitive); nothing for an argument without values or a resource template's part."""
    ref, arg = params.ref, params.argument
    values: list[str] = []
    if isinstance(ref, types.PromptReference):
        prompt = prompts.get(ref.name)
        if prompt is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"unknown prompt {ref.name!r}")
        declared = {a["name"]: a for a in prompt.decl.get("arguments") or ()}
        if arg.name not in declared:
            raise MCPError(code=types.INVALID_PARAMS, message=f"prompt {ref.name!r} has no argument {arg.name!r}")
        typed = (arg.value or "").casefold()
        values = [str(v) for v in declared[arg.name].get("values") or () if str(v).casefold().startswith(typed)]
    shown = values[:MAX_COMPLETIONS]
    return types.CompleteResult(
        completion=types.Completion(values=shown, total=len(values), has_more=len(values) > len(shown))
    )


async def read_resource(
    resource: PluginResource, calls: ToolCalls, ctx: Any, tools: Iterable[PluginTool]
) -> types.ReadResourceResult:
    decl, uri, mime = resource.decl, resource.uri, resource.mime_type
    if not decl:
        return _contents(uri, mime, plugin_docs(resource.plugin, tools).encode())
    if "text" in decl:
        text = str(decl["text"])
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, mime_type=mime, text=text)])
    if "blob" in decl:
        blob = str(decl["blob"])
        return types.ReadResourceResult(contents=[types.BlobResourceContents(uri=uri, mime_type=mime, blob=blob)])
    return _contents(uri, mime, await _from_export(resource.plugin, decl["export"], uri, {"uri": uri}, calls, ctx))
