"""Plugins' exports as MCP tools, on the official `mcp` SDK's low-level server.

One tool per export that has an input schema, named `<plugin>-<export>`: the plugin name with its
scope folded in by `_` (`@acme/weather` → `acme_weather`), then `-`, then the export. Plugin names
hold no `_` and export names hold no `-`, so two different (plugin, export) pairs can never get the
same tool name, and the built-in tools (no `-` in their names) never collide with a plugin's.

Arguments are validated against the export's input schema before the plugin runs; output is
validated against its output schema and returned as `structuredContent`. A plugin's error,
timeout, trap or denied capability is a tool result with `isError` carrying the message: the
server keeps serving.

The tool list can change while serving (`--watch`: `ExtismMCPServer.watch` polls the sources and
`reload` swaps the host's plugin set), so `tools.listChanged` is always advertised and a change is
announced on both protocol eras: 2026-07-28 clients get it on their `subscriptions/listen` stream
(the SDK's `ListenHandler` fed by a `SubscriptionBus`), 2025-11-25 clients as a
`notifications/tools/list_changed` on their connection (recorded when they send
`notifications/initialized`). A reload that fails verification is logged and changes nothing.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
import hmac
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from extism_platform import __version__
from extism_platform.host.cancel import CallCancel, CallThreads, run_cancellable
from extism_platform.host.runtime import Host, LoadedPlugin
from extism_platform.mcp import schemas
from plugin_format import names
from plugin_format.errors import ExtismPlatformError, PluginCallError, RunError
from plugin_format.manifest import Export

if TYPE_CHECKING:
    import jsonschema

    from extism_platform.host.watch import Watched

log = logging.getLogger("extism_platform.mcp")
watch_log = logging.getLogger("extism_platform.mcp.watch")

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}\Z")
LIST_PLUGINS_TOOL = "extism_plugins"
SERVER_NAME = "extism-platform"
#: how long the event loop waits synchronously for a call when nothing else is in flight (a cancel
#: or another request waits at most this long; a call that ends within it costs no loop round trip)
SYNC_WAIT_S = 0.002
MAX_LEGACY_SESSIONS = 1024  # handshake-era connections remembered for list_changed (oldest forgotten first)


def tool_name(plugin: str, export: str) -> str:
    """`@acme/weather` + `get` → `acme_weather-get`: the scope joined with `_`, which no plugin
    name contains, so two plugins can never make the same tool name."""
    scope, bare = names.split(plugin)
    name = f"{scope}_{bare}-{export}" if scope else f"{bare}-{export}"
    if not TOOL_NAME.match(name):  # plugin.yaml's patterns make this unreachable; say so if not
        raise RunError(f"plugin {plugin}: export {export!r} gives the tool name {name!r}, which MCP does not allow")
    return name


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

    def to_mcp(self) -> types.Tool:
        exp, info = self.export, self.plugin.info
        description = exp.description or f"{info.description} ({exp.name})".strip()
        return types.Tool(
            name=self.name,
            title=f"{info.name} {exp.name}",
            description=description,
            input_schema=exp.input_schema or {"type": "object"},
            output_schema=exp.output_schema if self.has_output_schema else None,
            annotations=schemas.tool_annotations(info.permissions, exp),
        )


def _matches(patterns: Iterable[str], tool: PluginTool) -> bool:
    return any(fnmatch.fnmatchcase(tool.name, p) or fnmatch.fnmatchcase(tool.plugin.name, p) for p in patterns)


def build_tools(
    host: Host,
    *,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    plugins: Mapping[str, LoadedPlugin] | None = None,
) -> dict[str, PluginTool]:
    """The tool table of the host's plugins (or of `plugins`, a set not installed yet), from
    manifests only (no wasm is compiled here)."""
    tools: dict[str, PluginTool] = {}
    for plugin in (host.plugins if plugins is None else plugins).values():
        for exp in plugin.info.exports:
            if exp.input_schema is None:
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


def _schema_error(err: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in err.absolute_path)
    return f"{where or '(arguments)'}: {err.message}"


def _text(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def _check_output(tool: PluginTool, output: bytes, parsed: list[Any]) -> str | None:
    """Why `output` does not fit the tool's output_schema (None when it does; the value is
    appended to `parsed`). Runs in the host's call, on its worker thread."""
    name, export = tool.plugin.name, tool.export.name
    try:
        value = json.loads(output)
    except ValueError:
        shown = output[:200].decode("utf-8", errors="replace")
        return (
            f"plugin {name}: {export} returned output that is not JSON, but its output_schema expects "
            f"an object: {shown!r}"
        )
    validator = tool.output_validator
    assert validator is not None  # only tools with an output schema are checked
    problems = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if problems:
        return f"plugin {name}: {export} returned output that does not match its output_schema: " + "; ".join(
            _schema_error(e) for e in problems[:5]
        )
    parsed.append(value)
    return None


LIST_PLUGINS_OUTPUT = {
    "type": "object",
    "properties": {"plugins": {"type": "array", "items": {"type": "object"}}},
    "required": ["plugins"],
}


class _Server(Server[Any]):
    """The SDK's low-level server, advertising `tools.listChanged` also when a transport asks for
    the initialization options without arguments (streamable HTTP does)."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> Any:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True), experimental_capabilities, extensions
        )


class ExtismMCPServer:
    """The MCP server of a `Host`: tools from manifests, calls into Extism on worker threads.

    With `watched`, `serve_stdio`/`serve_http` also poll those sources every `watch_interval`
    seconds and reload the plugins when they change (see `watch`)."""

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
    ) -> None:
        self.host = host
        #: `extism_platform.mcp.discovery.Discovery` in discovery mode (`--registry` without `--plugin`)
        self.discovery = discovery
        self.only, self.skip = only, skip
        self.tools = build_tools(host, only=only, skip=skip)
        self.transport = transport
        self.watched = watched
        self.watch_interval = watch_interval
        self.reloads = 0
        # asyncio's semaphore and call threads of our own: the lean hot path of run_cancellable
        self._limiter = asyncio.Semaphore(max_concurrency)
        self._threads = CallThreads(max_concurrency)
        self._in_flight = 0
        self._reload_lock = anyio.Lock()
        self.bus = InMemorySubscriptionBus()
        self._listen = ListenHandler(self.bus)
        self._legacy_sessions: OrderedDict[int, Any] = OrderedDict()
        self.server: Server[Any] = _Server(
            SERVER_NAME,
            version=__version__,
            instructions="Tools run as WebAssembly plugins inside the Extism sandbox, with only the "
            "capabilities the user granted. `extism_plugins` lists them and their permissions.",
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_subscriptions_listen=self._listen,
        )
        self.server.add_notification_handler(
            "notifications/initialized", types.NotificationParams, self._on_initialized
        )

    # ---- tools/list ---------------------------------------------------------------------------

    def list_plugins_tool(self) -> types.Tool:
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

    def mcp_tools(self) -> list[types.Tool]:
        builtin = [self.list_plugins_tool(), *(self.discovery.tools() if self.discovery is not None else ())]
        return [*builtin, *(t.to_mcp() for t in self.tools.values())]

    async def _list_tools(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        if params is not None and params.cursor is not None:  # one page: no cursor was ever handed out
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"invalid cursor {params.cursor!r} (tools/list has one page)"
            )
        return types.ListToolsResult(tools=self.mcp_tools())

    # ---- tools/call ---------------------------------------------------------------------------

    def describe_plugins(self, only: str | None = None) -> list[dict[str, Any]]:
        from registry_static.redact import redact_text  # noqa: PLC0415

        out = []
        for p in self.host.plugins.values():
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
                    "tools": sorted(t.name for t in self.tools.values() if t.plugin is p),
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

    def _context(self, ctx: Any, tool: PluginTool) -> dict[str, Any]:
        context: dict[str, Any] = {
            "tool": tool.name,
            "plugin": tool.plugin.name,
            "export": tool.export.name,
            "transport": self.transport,
        }
        for attr in ("request_id", "protocol_version"):
            value = getattr(ctx, attr, None)
            if value is not None:
                context[attr] = value
        meta = getattr(ctx, "meta", None)
        if meta is not None:
            context["meta"] = (
                meta.model_dump(mode="json", by_alias=True, exclude_none=True)
                if hasattr(meta, "model_dump")
                else dict(meta)
            )
        session = getattr(ctx, "session", None)
        params = getattr(session, "client_params", None) if session is not None else None
        if params is not None and getattr(params, "client_info", None) is not None:
            context["client"] = params.client_info.model_dump(mode="json", exclude_none=True)
        return context

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name == LIST_PLUGINS_TOOL:
            only = (params.arguments or {}).get("plugin")
            plugins = self.describe_plugins(only if isinstance(only, str) else None)
            doc = {"plugins": plugins}
            return types.CallToolResult(
                content=[types.TextContent(text=json.dumps(doc, indent=2))], structured_content=doc
            )
        if self.discovery is not None and params.name in self.discovery.names:
            from extism_platform.mcp import discovery  # noqa: PLC0415

            return await discovery.call(self, params.name, params.arguments or {})
        tool = self.tools.get(params.name)
        if tool is None:  # a protocol error (-32602), not a tool result
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"unknown tool {params.name!r} (tools/list shows the available ones)"
            )
        arguments = params.arguments or {}
        try:
            in_validator, out_validator = tool.input_validator, tool.output_validator
        except Exception as exc:  # noqa: BLE001 - found usable at load, refused now (a changed jsonschema?)
            return _text(
                f"plugin {tool.plugin.name}: export {tool.export.name}: "
                f"its schema is not usable ({getattr(exc, 'message', exc)})"
            )
        errors = sorted(in_validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if errors:
            return _text(f"invalid arguments for {tool.name}: " + "; ".join(_schema_error(e) for e in errors[:5]))
        if tool.export.input == "text":  # a foreign plugin's plain-text export: the string itself
            data = str(arguments["input"]).encode()
        else:
            data = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False).encode()
        context = self._context(ctx, tool)
        parsed: list[Any] = []
        try:
            # The tool's own LoadedPlugin: a reload during the call does not change what it runs.
            # notifications/cancelled cancels this task: the plugin is stopped and its slot freed at once.
            # The output check runs inside the host's call, so the audit record has its true outcome.
            cancel = CallCancel()
            check = (lambda out: _check_output(tool, out, parsed)) if out_validator is not None else None
            progress = _progress(ctx)
            # The loop may wait for the call synchronously only when nothing else needs it: no
            # other call in flight, and no progress notification for it to send meanwhile.
            wait = SYNC_WAIT_S if not self._in_flight and progress is None else 0.0
            self._in_flight += 1
            try:
                result = await run_cancellable(
                    partial(self.host.call, tool.plugin, tool.export.name, data, context, check, cancel, progress),
                    cancel,
                    limiter=self._limiter,
                    threads=self._threads,
                    sync_wait_s=wait,
                )
            finally:
                self._in_flight -= 1
        except PluginCallError as exc:
            return _text(str(exc))
        except Exception as exc:  # noqa: BLE001 - a tool error, never a raw JSON-RPC error
            log.exception("tools/call %s failed", tool.name)
            return _text(f"plugin {tool.plugin.name}: {tool.export.name} failed in the server: {type(exc).__name__}")
        text = result.output.decode("utf-8", errors="replace")
        if out_validator is None:
            return types.CallToolResult(content=[types.TextContent(text=text)])
        return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=parsed[0])

    # ---- tools/list_changed, reloading -------------------------------------------------------

    async def _on_initialized(self, ctx: Any, params: Any) -> None:
        """A handshake-era client finished its handshake: remember its session for list_changed."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        self._legacy_sessions[id(ctx.session)] = ctx.session
        while len(self._legacy_sessions) > MAX_LEGACY_SESSIONS:
            self._legacy_sessions.popitem(last=False)

    async def notify_tools_changed(self) -> None:
        """Tell every connected client that tools/list changed (both protocol eras)."""
        await self.bus.publish(ToolsListChanged())
        for key, session in list(self._legacy_sessions.items()):
            try:
                await session.send_tool_list_changed()
            except Exception as exc:  # a closed connection: forget it  # noqa: BLE001
                log.debug("list_changed not delivered (%s); forgetting the session", exc)
                self._legacy_sessions.pop(key, None)

    async def reload(self) -> bool:
        """Load the watched sources again (signatures verified as at start-up; changed plugins
        compiled) and swap the host's plugin set and the tool table in one step. On any failure
        the error is logged and the previous plugins keep serving. True when the set changed."""
        if self.watched is None:
            return False
        watched = self.watched
        async with self._reload_lock:
            try:
                grants, artifacts = await anyio.to_thread.run_sync(watched.load)
                if self.discovery is not None:  # what the agent enabled stays enabled
                    enabled = self.discovery.enabled
                    artifacts = [*(a for a in artifacts if a.info.name not in enabled), *enabled.values()]
                plugins = self.host.plan(artifacts, grants)
                tools = build_tools(self.host, only=self.only, skip=self.skip, plugins=plugins)
                fresh = [p for name, p in plugins.items() if self.host.plugins.get(name) is not p]
                await anyio.to_thread.run_sync(_compile_all, fresh)
            except (ExtismPlatformError, OSError) as exc:
                watch_log.error("reload failed, still serving the previous plugins: %s", exc)
                return False
            before = self.mcp_tools()
            # No await from here on: handlers see either the old host set and tools or the new ones.
            changes = self.host.swap(plugins, grants)
            self.tools = tools
            if not changes:
                return False
            self.reloads += 1
            watch_log.info("reloaded (%s): %d tool(s)", changes, len(self.tools))
            if self.mcp_tools() != before:
                await self.notify_tools_changed()
            return True

    async def watch(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Poll the watched sources' fingerprint; reload once a change has held still for one poll
        (so a rebuild caught halfway through is not reported as a bad artifact)."""
        watched = self.watched
        if watched is None:
            task_status.started()
            return
        last = await anyio.to_thread.run_sync(watched.fingerprint)
        watch_log.info("watching %s (every %.2g s)", watched.describe(), self.watch_interval)
        task_status.started()
        pending = None
        while True:
            await anyio.sleep(self.watch_interval)
            try:
                current = await anyio.to_thread.run_sync(watched.fingerprint)
                if current == last:
                    pending = None
                elif current != pending:
                    pending = current  # changed: wait for it to settle
                else:
                    last, pending = current, None
                    await self.reload()
            except Exception:  # the watcher must outlive any surprise  # noqa: BLE001
                watch_log.exception("watching failed; still serving")

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
        return self.server.create_initialization_options(NotificationOptions(tools_changed=True))

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
        app: Any = self.server.streamable_http_app(streamable_http_path=path, host=host)
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


def _progress(ctx: Any) -> Any:
    """The plugin's progress reports → `notifications/progress`, when the client gave a progress token
    (called on the call's worker thread; waits until the notification is sent)."""
    meta = getattr(ctx, "meta", None)
    if isinstance(meta, Mapping):
        token = meta.get("progress_token", meta.get("progressToken"))
    else:
        token = getattr(meta, "progress_token", None)
    session = getattr(ctx, "session", None)
    if token is None or session is None:
        return None
    request_id = getattr(ctx, "request_id", None)
    related = str(request_id) if request_id is not None else None
    loop = asyncio.get_running_loop()  # the call runs on a pool thread (run_cancellable), not an anyio one

    def report(progress: float, total: float | None, message: str | None) -> None:
        send = session.send_progress_notification(token, progress, total, message, related)
        asyncio.run_coroutine_threadsafe(send, loop).result()

    return report


def _compile_all(plugins: list[LoadedPlugin]) -> None:
    for plugin in plugins:
        plugin.warm()


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can reach it."""
    import ipaddress  # noqa: PLC0415

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _refuse(send: Any, status: int, error: str, description: str) -> None:
    body = json.dumps({"error": error, "error_description": description}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class OriginGate:
    """ASGI wrapper for a non-loopback address: a request with an `Origin` header (a browser
    page's) is refused (403) unless that origin is allowed; MCP clients send none. Without it, any
    web page a user opens could drive the server (DNS rebinding, cross-site requests)."""

    def __init__(self, app: Any, allowed: Iterable[str]) -> None:
        self.app, self.allowed = app, {o.rstrip("/").lower() for o in allowed}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            origin = dict(scope.get("headers") or []).get(b"origin")
            if origin is not None and origin.decode("latin-1").rstrip("/").lower() not in self.allowed:
                await _refuse(send, 403, "forbidden_origin", "this origin may not use the server (--allow-origin)")
                return
        await self.app(scope, receive, send)


class BearerGate:
    """ASGI wrapper: HTTP requests must carry `Authorization: Bearer <token>` (else 401)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self._expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error":"unauthorized","error_description":"a bearer token is required"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="extism-mcp-server"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
