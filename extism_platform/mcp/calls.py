"""Calling a plugin's tool and shaping its result (MCP `tools/call` for a `PluginTool`).

Arguments are validated against the export's input schema before the plugin runs; output is
validated against its output schema (inside the host's call, so the audit record has the true
outcome) and returned as `structuredContent`. A plugin's error, timeout, trap or denied
capability is a tool result with `isError` carrying the message: the server keeps serving.

The call runs on one of the `CallThreads` (`host.cancel`), never on the event loop:
`notifications/cancelled` cancels the awaiting task, which stops the plugin and frees its slot at
once. The plugin's progress reports become `notifications/progress` when the client gave a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import mcp_types as types

from extism_platform.host.cancel import CallCancel, CallThreads, run_cancellable
from extism_platform.host.runtime import Host, LoadedPlugin
from extism_platform.mcp.tools import PluginTool
from plugin_format.errors import PluginCallError

if TYPE_CHECKING:
    import jsonschema

log = logging.getLogger("extism_platform.mcp")

#: how long the event loop waits synchronously for a call when nothing else is in flight (a cancel
#: or another request waits at most this long; a call that ends within it costs no loop round trip)
SYNC_WAIT_S = 0.002


def tool_error(message: str) -> types.CallToolResult:
    """A tool result with `isError`: the message reaches the agent verbatim."""
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def json_result(doc: dict[str, Any]) -> types.CallToolResult:
    """A built-in tool's answer: the document as structured content and as indented JSON text."""
    return types.CallToolResult(content=[types.TextContent(text=json.dumps(doc, indent=2))], structured_content=doc)


def _schema_error(err: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in err.absolute_path)
    return f"{where or '(arguments)'}: {err.message}"


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
    loop = asyncio.get_running_loop()  # the call runs on a call thread (run_cancellable), not an anyio one

    def report(progress: float, total: float | None, message: str | None) -> None:
        send = session.send_progress_notification(token, progress, total, message, related)
        asyncio.run_coroutine_threadsafe(send, loop).result()

    return report


class ToolCalls:
    """Runs `PluginTool` calls for one server: at most `max_concurrency` at once, each on a call
    thread of its own."""

    def __init__(self, host: Host, *, max_concurrency: int, transport: str) -> None:
        self.host = host
        self.transport = transport
        # asyncio's semaphore and call threads of our own: the lean hot path of run_cancellable
        self._limiter = asyncio.Semaphore(max_concurrency)
        self._threads = CallThreads(max_concurrency)
        self._in_flight = 0

    def context(self, ctx: Any, what: str, plugin: LoadedPlugin, export: str) -> dict[str, Any]:
        """What the plugin's `context_get` reads (and the audit record's tool and request id);
        `what`: the tool's name, or `resource:<uri>` for a resource read."""
        context: dict[str, Any] = {"tool": what, "plugin": plugin.name, "export": export, "transport": self.transport}
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

    async def _run(
        self, plugin: LoadedPlugin, export: str, data: bytes, context: dict[str, Any], check: Any, progress: Any
    ) -> Any:
        """`host.call` of `export` on a call thread, under the limit; cancelling the awaiting task
        (notifications/cancelled, a client gone) stops the plugin and frees its slot at once."""
        cancel = CallCancel()
        # The loop may wait for the call synchronously only when nothing else needs it: no
        # other call in flight, and no progress notification for it to send meanwhile.
        wait = SYNC_WAIT_S if not self._in_flight and progress is None else 0.0
        self._in_flight += 1
        try:
            return await run_cancellable(
                partial(self.host.call, plugin, export, data, context, check, cancel, progress),
                cancel,
                limiter=self._limiter,
                threads=self._threads,
                sync_wait_s=wait,
            )
        finally:
            self._in_flight -= 1

    async def run_export(self, ctx: Any, plugin: LoadedPlugin, export: str, data: bytes, what: str) -> bytes:
        """One call of `plugin`'s `export` for something other than a tool (`what`: a resource
        read, in the audit record's `tool`), as tool calls run. Raises `PluginCallError`."""
        result = await self._run(plugin, export, data, self.context(ctx, what, plugin, export), None, None)
        return bytes(result.output)

    async def call(self, ctx: Any, tool: PluginTool, arguments: dict[str, Any]) -> types.CallToolResult:
        """One `tools/call` of `tool` (the request context `ctx` gives the request id, meta and client)."""
        try:
            in_validator, out_validator = tool.input_validator, tool.output_validator
        except Exception as exc:  # noqa: BLE001 - found usable at load, refused now (a changed jsonschema?)
            why = getattr(exc, "message", exc)
            return tool_error(f"plugin {tool.plugin.name}: export {tool.export.name}: its schema is not usable ({why})")
        errors = sorted(in_validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if errors:
            return tool_error(f"invalid arguments for {tool.name}: " + "; ".join(_schema_error(e) for e in errors[:5]))
        if tool.export.input == "text":  # a foreign plugin's plain-text export: the string itself
            data = str(arguments["input"]).encode()
        else:
            data = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False).encode()
        context = self.context(ctx, tool.name, tool.plugin, tool.export.name)
        parsed: list[Any] = []
        try:
            # The tool's own LoadedPlugin: a reload during the call does not change what it runs.
            # The output check runs inside the host's call, so the audit record has its true outcome.
            check = (lambda out: _check_output(tool, out, parsed)) if out_validator is not None else None
            result = await self._run(tool.plugin, tool.export.name, data, context, check, _progress(ctx))
        except PluginCallError as exc:
            return tool_error(str(exc))
        except Exception as exc:  # noqa: BLE001 - a tool error, never a raw JSON-RPC error
            log.exception("tools/call %s failed", tool.name)
            return tool_error(
                f"plugin {tool.plugin.name}: {tool.export.name} failed in the server: {type(exc).__name__}"
            )
        text = result.output.decode("utf-8", errors="replace")
        if out_validator is None:
            return types.CallToolResult(content=[types.TextContent(text=text)])
        return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=parsed[0])
