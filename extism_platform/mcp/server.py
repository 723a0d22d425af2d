"""Plugins' exports as MCP tools, on the official `mcp` SDK's low-level server: the server class and
its transports (stdio, streamable HTTP).

The jobs live beside it, each in a module of its own, none of which imports this one:
`naming` (tool names), `tools` (the tool table and the built-in `extism_plugins`), `schemas`
(each schema checked in its dialect; annotations), `calls` (running a tool's plugin and shaping
its result), `list_changed` (watching the sources, reloading, telling the clients), `http_gates`
(Origin and Bearer checks), `stdio` (the stdio pipes), `workers` (`--workers N`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server._otel import OpenTelemetryMiddleware
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.shared.exceptions import MCPError

from extism_platform import __version__
from extism_platform.host.runtime import Host
from extism_platform.mcp import list_changed, offerings
from extism_platform.mcp.calls import ToolCalls, json_result
from extism_platform.mcp.http_gates import BearerGate, OriginGate, is_loopback
from extism_platform.mcp.naming import tool_name
from extism_platform.mcp.tools import LIST_PLUGINS_TOOL, PluginTool, build_tools, describe_plugins, list_plugins_tool

if TYPE_CHECKING:
    from extism_platform.host.watch import Watched

__all__ = ["ExtismMCPServer", "PluginTool", "build_tools", "is_loopback", "tool_name"]

SERVER_NAME = "extism-platform"


def tracing_configured() -> bool:
    """Whether OpenTelemetry spans are collected: a tracer provider set before the server
    starts (as `opentelemetry-instrument` does) or any `OTEL_*` variable in the environment."""
    import os  # noqa: PLC0415

    from opentelemetry import trace  # noqa: PLC0415

    if any(name.startswith("OTEL_") for name in os.environ):
        return True
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


#: what a reload announces (`list_changed`): every list the server serves
LIST_CHANGES = NotificationOptions(tools_changed=True, prompts_changed=True, resources_changed=True)


class _Server(Server[Any]):
    """The SDK's low-level server, advertising `listChanged` of tools, prompts and resources also
    when a transport asks for the initialization options without arguments (streamable HTTP does)."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> Any:
        return super().create_initialization_options(
            notification_options or LIST_CHANGES, experimental_capabilities, extensions
        )


class ExtismMCPServer:
    """The MCP server of a `Host`: tools from manifests, calls into Extism on call threads.

    With `watched`, `serve_stdio`/`serve_http` also poll those sources every `watch_interval`
    seconds and reload the plugins when they change (see `list_changed`)."""

    def __init__(
        self,
        host: Host,
        *,
        only: list[str] | None = None,
        skip: list[str] | None = None,
        max_concurrency: int = 8,
        transport: str = "stdio",
        watched: Watched | None = None,
        watch_interval: float = 0.5,
        discovery: Any = None,
        shortcut: bool = True,
    ) -> None:
        """`shortcut`: 2026-07-28 `tools/call`/`tools/list` over HTTP take `stateless_http`'s short
        way (False: every request goes the SDK's whole way; the tests compare the two)."""
        self.host = host
        self.shortcut = shortcut
        #: `extism_platform.mcp.discovery.Discovery` in discovery mode (`--registry` without `--plugin`)
        self.discovery = discovery
        self.only, self.skip = only, skip
        self.tools: dict[str, PluginTool] = build_tools(host, only=only, skip=skip)
        self.transport = transport
        self.watched = watched
        self.watch_interval = watch_interval
        self.reloads = 0
        self.reload_lock = anyio.Lock()
        self.calls = ToolCalls(host, max_concurrency=max_concurrency, transport=transport)
        self.changes = list_changed.ListChanged()
        self._catalogue: offerings.Offerings | None = None
        self.bus = self.changes.bus
        self.server: Server[Any] = _Server(
            SERVER_NAME,
            version=__version__,
            instructions="Tools run as WebAssembly plugins inside the Extism sandbox, with only the "
            "capabilities the user granted. `extism_plugins` lists them and their permissions.",
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_subscriptions_listen=self.changes.listen,
            # Streamable HTTP checks a call's Mcp-Param headers against the tool's input schema:
            # from this lookup, not from a whole tools/list built for every call (~20% of a call).
            get_tool_input_schema=self.tool_input_schema,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_completion=self._complete,
            on_subscribe_resource=self.changes.subscribe,
            on_unsubscribe_resource=self.changes.unsubscribe,
        )
        self.server.add_notification_handler(
            "notifications/initialized", types.NotificationParams, self.changes.on_initialized
        )
        if not tracing_configured():
            # The SDK wraps every request in an OpenTelemetry span, a no-op one when nothing
            # collects spans: ~10% of the Python time of a tools/call over HTTP (py-spy).
            self.server.middleware = [m for m in self.server.middleware if not isinstance(m, OpenTelemetryMiddleware)]

    # ---- tools/list ---------------------------------------------------------------------------

    def mcp_tools(self) -> list[types.Tool]:
        builtin = [list_plugins_tool(), *(self.discovery.tools() if self.discovery is not None else ())]
        return [*builtin, *(t.to_mcp() for t in self.tools.values())]

    def tool_input_schema(self, name: str) -> dict[str, Any] | None:
        """The input schema `tools/list` shows for the tool `name` (None: no such tool)."""
        tool = self.tools.get(name)
        if tool is not None:
            return tool.input_schema
        if name == LIST_PLUGINS_TOOL:
            return list_plugins_tool().input_schema
        if self.discovery is not None:
            return next((t.input_schema for t in self.discovery.tools() if t.name == name), None)
        return None

    async def _list_tools(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        self._one_page("tools/list", params)
        return types.ListToolsResult(tools=self.mcp_tools())

    # ---- resources and prompts (mcp.offerings, built once per set of plugins loaded) ----------

    def catalogue(self) -> offerings.Offerings:
        """The resources, templates and prompts of the plugins loaded now (built again only when a
        reload or discovery changed the set, so a collision is warned of once per set)."""
        plugins = self.host.plugins.values()
        if self._catalogue is None or not self._catalogue.same_plugins(plugins):
            self._catalogue = offerings.Offerings.of(plugins)
        return self._catalogue

    def offered(self) -> dict[str, list[Any]]:
        """What prompts/list, resources/list and resources/templates/list show now (a reload
        compares them to tell clients what changed)."""
        c = self.catalogue()
        resources: list[Any] = [r.to_mcp() for r in c.resources.values()] + [t.to_mcp() for t in c.templates]
        return {"prompts": [p.to_mcp() for p in c.prompts.values()], "resources": resources}

    def resource_fingerprints(self, also: set[str]) -> dict[str, str]:
        """A digest per resource URI of what its content comes from (the owning plugin's build and
        grant, and its declaration), for the served URIs and those of `also` a template serves; a
        reload tells subscribers of each URI whose digest changed. An export-backed resource's
        output can change between reloads too (it may read kv): that is not announced."""
        import hashlib  # noqa: PLC0415

        c = self.catalogue()
        owners: dict[str, tuple[Any, dict[str, Any]]] = {uri: (r.plugin, r.decl) for uri, r in c.resources.items()}
        for uri in also - owners.keys():
            found = c.template_for(uri)
            if found is not None:
                owners[uri] = (found[0].plugin, found[0].decl)
        out = {}
        for uri, (plugin, decl) in owners.items():
            basis = [plugin.sha256, decl, plugin.effective.to_dict()]
            if not decl:  # the docs also show the plugin's tools
                basis.append(sorted(t.name for t in self.tools.values() if t.plugin is plugin))
            out[uri] = hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()
        return out

    @staticmethod
    def _one_page(method: str, params: types.PaginatedRequestParams | None) -> None:
        if params is not None and params.cursor is not None:  # one page: no cursor was ever handed out
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"invalid cursor {params.cursor!r} ({method} has one page)"
            )

    async def _list_resources(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        self._one_page("resources/list", params)
        return types.ListResourcesResult(resources=[r.to_mcp() for r in self.catalogue().resources.values()])

    async def _list_resource_templates(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        self._one_page("resources/templates/list", params)
        return types.ListResourceTemplatesResult(resource_templates=[t.to_mcp() for t in self.catalogue().templates])

    async def _read_resource(self, ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        catalogue = self.catalogue()
        resource = catalogue.resources.get(uri)
        if resource is None:
            found = catalogue.template_for(uri)
            if found is not None:
                return await offerings.read_templated(found[0], uri, found[1], self.calls, ctx)
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"resource not found: {uri!r} (resources/list shows the available ones)",
                data={"uri": uri},
            )
        return await offerings.read_resource(resource, self.calls, ctx, self.tools.values())

    async def _list_prompts(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        self._one_page("prompts/list", params)
        return types.ListPromptsResult(prompts=[p.to_mcp() for p in self.catalogue().prompts.values()])

    async def _get_prompt(self, ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        prompt = self.catalogue().prompts.get(params.name)
        if prompt is None:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"unknown prompt {params.name!r} (prompts/list shows the available ones)",
            )
        return prompt.get(params.arguments)

    async def _complete(self, ctx: Any, params: types.CompleteRequestParams) -> types.CompleteResult:
        return offerings.complete(self.catalogue().prompts, params)

    # ---- tools/call ---------------------------------------------------------------------------

    def describe_plugins(self, only: str | None = None) -> list[dict[str, Any]]:
        return describe_plugins(self.host, self.tools, only)

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name == LIST_PLUGINS_TOOL:
            only = (params.arguments or {}).get("plugin")
            return json_result({"plugins": self.describe_plugins(only if isinstance(only, str) else None)})
        if self.discovery is not None and params.name in self.discovery.names:
            from extism_platform.mcp import discovery  # noqa: PLC0415

            return await discovery.call(self, params.name, params.arguments or {})
        tool = self.tools.get(params.name)
        if tool is None:  # a protocol error (-32602), not a tool result
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"unknown tool {params.name!r} (tools/list shows the available ones)"
            )
        return await self.calls.call(ctx, tool, params.arguments or {})

    # ---- tools/list_changed, reloading -------------------------------------------------------

    async def notify_tools_changed(self) -> None:
        """Tell every connected client that tools/list changed (both protocol eras)."""
        await self.changes.notify()

    async def reload(self) -> bool:
        """See `list_changed.reload`."""
        return await list_changed.reload(self)

    async def watch(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """See `list_changed.watch`."""
        await list_changed.watch(self, task_status=task_status)

    async def _serving(self, serve: Any) -> None:
        """Run `serve()` (a transport), with the watcher beside it when there is one."""
        if self.watched is None:
            await serve()
            return
        async with anyio.create_task_group() as tg:
            await tg.start(self.watch)
            await serve()
            tg.cancel_scope.cancel()

    # ---- transports ---------------------------------------------------------------------------

    def initialization_options(self) -> Any:
        return self.server.create_initialization_options(LIST_CHANGES)

    async def serve_stdio(self) -> None:
        from extism_platform.mcp.stdio import stdio_streams  # noqa: PLC0415

        async def serve() -> None:
            async with stdio_streams() as (read_stream, write_stream):
                await self.server.run(read_stream, write_stream, self.initialization_options())

        await self._serving(serve)

    def http_app(
        self, host: str, *, token: str | None = None, path: str = "/mcp", allowed_origins: Iterable[str] = ()
    ) -> Any:
        """The streamable-HTTP ASGI app (with a bearer-token check when `token` is set). On a
        loopback address the SDK checks Host and Origin; on any other it checks neither, so
        `OriginGate` refuses browser requests from origins not in `allowed_origins` there."""
        from extism_platform.mcp.stateless_http import ModernShortcut  # noqa: PLC0415

        app: Any = self.server.streamable_http_app(streamable_http_path=path, host=host)
        if self.shortcut:
            app = ModernShortcut(app, self.server, path)
        if not is_loopback(host):
            app = OriginGate(app, allowed_origins)
        return BearerGate(app, token) if token else app

    async def serve_http(
        self,
        host: str,
        port: int,
        *,
        token: str | None = None,
        ready: Any = None,
        allowed_origins: Iterable[str] = (),
        sockets: list[Any] | None = None,
        wrap: Any = None,
        started: Any = None,
    ) -> None:
        """`sockets`: serve on these instead of binding host:port; `wrap(app)`: an ASGI wrapper
        (`--workers`' session router); `started()`: called once uvicorn accepts connections."""
        import uvicorn  # noqa: PLC0415

        app = self.http_app(host, token=token, allowed_origins=allowed_origins)
        config = uvicorn.Config(
            wrap(app) if wrap is not None else app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,  # nothing here reads the client address a proxy would forward
            timeout_graceful_shutdown=3,  # open SSE / listen streams would otherwise hold shutdown
        )
        server = uvicorn.Server(config)
        if ready is not None:
            ready(server)

        async def serve() -> None:
            if started is None:
                await server.serve(sockets=sockets)
                return
            async with anyio.create_task_group() as tg:

                async def announce() -> None:
                    while not server.started:
                        await anyio.sleep(0.01)
                    started()

                tg.start_soon(announce)
                await server.serve(sockets=sockets)
                tg.cancel_scope.cancel()

        await self._serving(serve)
