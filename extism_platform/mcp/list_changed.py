"""The tool list changing while serving: noticing it (`watch`), applying it (`reload`) and telling
the clients (`ListChanged`); the same for prompts and resources (a plugin's own, and its docs).

`--watch` polls the sources and `reload` swaps the host's plugin set, so `listChanged` of tools,
prompts and resources is always advertised and a change is announced on both protocol eras:
2026-07-28 clients get it on their `subscriptions/listen` stream (the SDK's `ListenHandler` fed by
a `SubscriptionBus`), 2025-11-25 clients as a `notifications/…/list_changed` on their connection
(recorded when they send `notifications/initialized`), and `resources/updated` when they
subscribed to the resource. A reload that fails verification is logged and changes nothing.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import anyio
import mcp_types as types
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ToolsListChanged,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from extism_platform.host.runtime import LoadedPlugin
from extism_platform.mcp.tools import build_tools
from plugin_format.errors import ExtismPlatformError

log = logging.getLogger("extism_platform.mcp")
watch_log = logging.getLogger("extism_platform.mcp.watch")

MAX_LEGACY_SESSIONS = 1024  # handshake-era connections remembered for list_changed (oldest forgotten first)
MAX_SUBSCRIPTIONS = 1024  # resources/subscribe URIs one session may hold


def _forget_oldest(sessions: OrderedDict[int, Any]) -> None:
    while len(sessions) > MAX_LEGACY_SESSIONS:
        sessions.popitem(last=False)


class ListChanged:
    """Who hears of a changed tool, prompt or resource list, or of a resource's update: the
    2026-07-28 `subscriptions/listen` streams (`listen`, the server's handler) and the 2025-11-25
    sessions that finished their handshake (and those that subscribed to a resource)."""

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.bus)
        self._legacy_sessions: OrderedDict[int, Any] = OrderedDict()
        #: resources/subscribe of handshake-era sessions: id(session) -> (session, URIs)
        self._subscribed: OrderedDict[int, tuple[Any, set[str]]] = OrderedDict()

    async def subscribe(self, ctx: Any, params: Any) -> Any:
        """resources/subscribe (2025-11-25): remember the URI for this session, served yet or not
        (a URI that appears with a reload is announced too). 2026-07-28 clients subscribe on
        their listen stream instead."""
        entry = self._subscribed.setdefault(id(ctx.session), (ctx.session, set()))
        if len(entry[1]) < MAX_SUBSCRIPTIONS:
            entry[1].add(str(params.uri))
        _forget_oldest(self._subscribed)
        return types.EmptyResult()

    async def unsubscribe(self, ctx: Any, params: Any) -> Any:
        entry = self._subscribed.get(id(ctx.session))
        if entry is not None:
            entry[1].discard(str(params.uri))
        return types.EmptyResult()

    def subscribed_uris(self) -> set[str]:
        return {uri for _, uris in self._subscribed.values() for uri in uris}

    async def resources_updated(self, uris: set[str]) -> None:
        """Tell the subscribers of each of `uris` that it changed (both protocol eras)."""
        for uri in sorted(uris):
            await self.bus.publish(ResourceUpdated(uri=uri))
        for key, (session, mine) in list(self._subscribed.items()):
            for uri in sorted(mine & uris):
                try:
                    await session.send_resource_updated(uri)
                except Exception as exc:  # a closed connection: forget it  # noqa: BLE001
                    log.debug("resources/updated not delivered (%s); forgetting the session", exc)
                    self._subscribed.pop(key, None)
                    break

    async def on_initialized(self, ctx: Any, params: Any) -> None:
        """A handshake-era client finished its handshake: remember its session for list_changed."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        self._legacy_sessions[id(ctx.session)] = ctx.session
        _forget_oldest(self._legacy_sessions)

    async def notify(self, kind: str = "tools") -> None:
        """Tell every connected client that `kind`/list changed (tools, prompts or resources; both
        protocol eras)."""
        events: dict[str, tuple[ToolsListChanged | PromptsListChanged | ResourcesListChanged, str]] = {
            "tools": (ToolsListChanged(), "send_tool_list_changed"),
            "prompts": (PromptsListChanged(), "send_prompt_list_changed"),
            "resources": (ResourcesListChanged(), "send_resource_list_changed"),
        }
        event, send = events[kind]
        await self.bus.publish(event)
        for key, session in list(self._legacy_sessions.items()):
            try:
                await getattr(session, send)()
            except Exception as exc:  # a closed connection: forget it  # noqa: BLE001
                log.debug("list_changed not delivered (%s); forgetting the session", exc)
                self._legacy_sessions.pop(key, None)


def _compile_all(plugins: list[LoadedPlugin]) -> None:
    for plugin in plugins:
        plugin.warm()


async def reload(server: Any) -> bool:
    """Load `server.watched` again (signatures verified as at start-up; changed plugins compiled)
    and swap the host's plugin set and the server's tool table in one step. On any failure the
    error is logged and the previous plugins keep serving. True when the set changed.
    (`server` is an `ExtismMCPServer`; this module does not import it.)"""
    if server.watched is None:
        return False
    watched, host = server.watched, server.host
    async with server.reload_lock:
        try:
            grants, artifacts = await anyio.to_thread.run_sync(watched.load)
            if server.discovery is not None:  # what the agent enabled stays enabled
                enabled = server.discovery.enabled
                artifacts = [*(a for a in artifacts if a.info.name not in enabled), *enabled.values()]
            plugins = host.plan(artifacts, grants)
            tools = build_tools(host, only=server.only, skip=server.skip, plugins=plugins, grants=grants)
            fresh = [p for name, p in plugins.items() if host.plugins.get(name) is not p]
            await anyio.to_thread.run_sync(_compile_all, fresh)
        except (ExtismPlatformError, OSError) as exc:
            watch_log.error("reload failed, still serving the previous plugins: %s", exc)
            return False
        before = server.mcp_tools(), server.offered(), server.resource_fingerprints(server.changes.subscribed_uris())
        # No await from here on: handlers see either the old host set and tools or the new ones.
        changes = host.swap(plugins, grants)
        server.tools = tools
        if not changes:
            return False
        server.reloads += 1
        watch_log.info("reloaded (%s): %d tool(s)", changes, len(server.tools))
        if server.mcp_tools() != before[0]:
            await server.notify_tools_changed()
        after = server.offered()
        for kind in ("prompts", "resources"):
            if after[kind] != before[1][kind]:
                await server.changes.notify(kind)
        prints = server.resource_fingerprints(server.changes.subscribed_uris())
        changed = {u for u in prints.keys() | before[2].keys() if prints.get(u) != before[2].get(u)}
        if changed:
            await server.changes.resources_updated(changed)
        return True


async def watch(server: Any, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
    """Poll `server.watched`'s fingerprint every `server.watch_interval` seconds; reload once a
    change has held still for one poll (so a rebuild caught halfway through is not reported as a
    bad artifact)."""
    watched = server.watched
    if watched is None:
        task_status.started()
        return
    last = await anyio.to_thread.run_sync(watched.fingerprint)
    watch_log.info("watching %s (every %.2g s)", watched.describe(), server.watch_interval)
    task_status.started()
    pending = None
    while True:
        await anyio.sleep(server.watch_interval)
        try:
            current = await anyio.to_thread.run_sync(watched.fingerprint)
            if current == last:
                pending = None
            elif current != pending:
                pending = current  # changed: wait for it to settle
            else:
                last, pending = current, None
                await server.reload()
        except Exception:  # the watcher must outlive any surprise  # noqa: BLE001
            watch_log.exception("watching failed; still serving")
