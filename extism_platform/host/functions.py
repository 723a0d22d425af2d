"""The host functions linked into every plugin, and the per-call state they act on.

Every plugin is linked with the same set: the catalogue of `plugin_format.host_functions`
(`extism:host/user`: kv, log, context) plus Python replacements of the kernel's `http_request`,
`http_status_code` and `config_get` (`extism:host/env`; a host function registered there shadows
the kernel's). Each function checks the calling plugin's *effective* permissions; a denial is
recorded on the call, the call is cancelled at once, and the host turns it into a readable error.

A host function must never raise: the SDK prints the exception and carries on, so every body is
wrapped and failures become the call's error.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from extism_platform.grants import group_of, host_allowed
from extism_platform.host import http
from plugin_format.errors import PermissionDeniedError
from plugin_format.extism_sdk import extism
from plugin_format.host_functions import GROUPS

if TYPE_CHECKING:
    from extism_platform.audit import AuditLog
    from extism_platform.grants import Effective, Hints
    from extism_platform.host.http import HttpSettings
    from extism_platform.host.kv import KV


class CallHost(Protocol):
    """What the host functions use of the `Host` running the call (`runtime.Host` is one); a
    protocol, so this module and runtime.py do not import each other."""

    audit: AuditLog
    kv: KV
    http: HttpSettings
    hints: Hints


class CallPlugin(Protocol):
    """What the host functions use of the plugin being called (`runtime.LoadedPlugin` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def kv_namespace(self) -> str: ...

    effective: Effective


ENV = "extism:host/env"
USER = "extism:host/user"
_TYPES = {"i32": extism.ValType.I32, "i64": extism.ValType.I64}

_current = threading.local()


@dataclass
class CallState:
    """What the host functions need to know about the call running on this thread."""

    host: CallHost
    plugin: CallPlugin
    instance: extism.Plugin
    export: str
    context: dict[str, Any]
    deadline: float
    http_status: int = 0
    #: the last response's headers (`http_headers` hands them over when granted)
    http_headers: dict[str, str] = field(default_factory=dict)
    denial: PermissionDeniedError | None = None
    host_error: str | None = None
    capabilities: list[dict[str, Any]] = field(default_factory=list)
    #: config keys the plugin read while they had no value: (key, how to supply one)
    unset_config: list[tuple[str, str]] = field(default_factory=list)
    #: where `progress_notify` reports (progress, total, message); None: nobody listens
    progress: Callable[[float, float | None, str | None], None] | None = None

    def stop(self) -> None:
        """Cancel the guest: it stops at its next instruction boundary check. This cancels only
        this call because every instance has an engine of its own (see runtime.py); the host
        discards the instance afterwards."""
        self.instance.cancel_handle().cancel()

    def deny(self, capability: str, value: str, how: str, audit_value: str | None = None) -> None:
        if self.denial is None:
            self.denial = PermissionDeniedError(self.plugin.name, capability, value, how)
        self.audit(capability_kind(capability), audit_value or value, False, how)
        self.stop()

    def audit(self, capability: str, value: str, allowed: bool, reason: str = "", **extra: Any) -> None:
        record = {"capability": capability, "value": value, "decision": "allowed" if allowed else "denied"}
        if reason:
            record["reason"] = reason
        record.update(extra)
        self.capabilities.append(record)
        self.host.audit.append(
            "capability",
            plugin=self.plugin.name,
            version=self.plugin.version,
            sha256=self.plugin.sha256,
            export=self.export,
            **record,
        )


def capability_kind(capability: str) -> str:
    return {"HTTP access to": "host", "to read config": "config", "to call host function": "host_function"}.get(
        capability, capability
    )


def current() -> CallState:
    return _current.state


def set_current(state: CallState | None) -> None:
    _current.state = state


def _guarded(body: Callable[[CallState, Any, list, list], None]) -> Callable[..., None]:
    def run(cur: Any, inputs: list, outputs: list, *_: Any) -> None:
        state: CallState | None = getattr(_current, "state", None)
        for o in outputs:
            o.value = 0
        if state is None:  # not called through the Host (cannot happen), refuse quietly
            return
        try:
            body(state, cur, inputs, outputs)
        except Exception as exc:  # noqa: BLE001 - see module docstring
            state.host_error = f"host function failed: {type(exc).__name__}: {exc}"
            logging.getLogger("extism_platform.host").exception("host function failed")
            state.stop()

    return run


def _read(cur: Any, val: Any) -> bytes:
    return cur.input_bytes(val) if val.value else b""


def _return(cur: Any, out: Any, data: bytes | None) -> None:
    if data:
        cur.return_bytes(out, data)
    else:
        out.value = 0


# ---- kernel replacements (extism:host/env) ----------------------------------------------------


def _http_request(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    req = json.loads(_read(cur, inputs[0]) or b"{}")
    body = _read(cur, inputs[1])
    url, method = str(req.get("url", "")), str(req.get("method") or "GET").upper()
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    shown = f"{host}:{parts.port}" if parts.port else host
    eff = state.plugin.effective
    if parts.scheme not in ("http", "https") or not host:
        state.deny("HTTP access to", repr(url), "only http:// and https:// URLs with a host are allowed")
        return
    try:
        port = parts.port
    except ValueError:
        port = -2  # an invalid port matches no grant
    if not host_allowed(eff.hosts, host, port, parts.scheme):
        requested = host_allowed(eff.requested.hosts, host, port, parts.scheme)
        hints = state.host.hints
        how = (hints.grant if requested else hints.undeclared)(state.plugin.name, "host", shown)
        state.deny("HTTP access to", shown, how)
        return
    state.audit("host", shown, True, method=method, url=url.split("?", 1)[0])
    remaining = state.deadline - time.monotonic()
    try:
        status, data, headers = http.perform(method, url, req.get("headers") or {}, body, state.host.http, remaining)
    except http.NoMockError as exc:
        state.host_error = f"plugin {state.plugin.name}: HTTP {exc}"
        state.stop()
        return
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        state.host_error = f"plugin {state.plugin.name}: HTTP {method} {shown} failed: {reason}"
        state.stop()
        return
    state.http_status = status
    state.http_headers = headers
    _return(cur, outputs[0], data)


def _http_status_code(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    outputs[0].value = state.http_status


def _http_headers(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    """The kernel's semantics: the last response's headers as a JSON object when the host enables
    them, else 0 (no headers), which every PDK reads as "none". Only a plugin that declares
    `permissions.http_response_headers` and is granted it gets them. A declared but ungranted read
    is audited as denied (with how to grant it) and the plugin carries on without them; an
    undeclared one is not audited, since PDKs (Go's, Java's) read the headers after every request
    whether the plugin looks at them or not."""
    eff = state.plugin.effective
    if not eff.http_response_headers:
        if eff.requested.http_response_headers:
            how = state.host.hints.grant(state.plugin.name, "http_response_headers", "true")
            state.audit("http_response_headers", "true", False, how)
        outputs[0].value = 0
        return
    state.audit("http_response_headers", "true", True)
    _return(cur, outputs[0], json.dumps(state.http_headers, sort_keys=True).encode())


def _config_get(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    """Extism's own semantics: a key without a value reads as not set, so a plugin's default
    applies (`v, ok := pdk.GetConfig(k); if !ok {…}`). The read is audited as denied, and if the
    call then fails, its error says how the value would have been supplied."""
    key = _read(cur, inputs[0]).decode("utf-8", "replace")
    eff = state.plugin.effective
    if key in eff.config:
        state.audit("config", key, True)
        _return(cur, outputs[0], eff.config[key].encode())
        return
    hints = state.host.hints
    if key in eff.missing_config:
        how = eff.missing_config[key] or hints.grant(state.plugin.name, "config", key)
    else:
        how = hints.undeclared(state.plugin.name, "config", key)
    state.unset_config.append((key, how))
    state.audit("config", key, False, f"not set: {how}")
    outputs[0].value = 0


# ---- the catalogue (extism:host/user) ---------------------------------------------------------


def _gate(state: CallState, name: str) -> bool:
    eff = state.plugin.effective
    if name in eff.host_functions:
        return True
    group = group_of(name) or name
    declared = any(name in GROUPS.get(item, {item: None}) for item in eff.requested.host_functions)
    hints = state.host.hints
    how = (hints.grant if declared else hints.undeclared)(state.plugin.name, "host_function", group)
    state.deny("to call host function", f"{name} (group {group})", how, audit_value=name)
    return False


def _kv_get(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    if _gate(state, "kv_get"):
        _return(cur, outputs[0], state.host.kv.get(state.plugin.kv_namespace, _read(cur, inputs[0])))


def _kv_set(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    if _gate(state, "kv_set"):
        state.host.kv.set(state.plugin.kv_namespace, _read(cur, inputs[0]), _read(cur, inputs[1]))


def _kv_delete(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    if _gate(state, "kv_delete"):
        state.host.kv.delete(state.plugin.kv_namespace, _read(cur, inputs[0]))


def _log_event(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    if not _gate(state, "log_event"):
        return
    text = _read(cur, inputs[0]).decode("utf-8", "replace")
    try:
        event: Any = json.loads(text)
    except ValueError:
        event = text
    logging.getLogger(f"extism_platform.plugin.{state.plugin.name}").info("%s", text)
    state.host.audit.append(
        "log",
        plugin=state.plugin.name,
        version=state.plugin.version,
        sha256=state.plugin.sha256,
        export=state.export,
        message=event,
    )


def _context_get(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    if _gate(state, "context_get"):
        _return(cur, outputs[0], json.dumps(state.context, default=str).encode())


def _progress_notify(state: CallState, cur: Any, inputs: list, outputs: list) -> None:
    if not _gate(state, "progress_notify"):
        return
    try:
        doc = json.loads(_read(cur, inputs[0]))
        progress = float(doc["progress"])
        total = float(doc["total"]) if doc.get("total") is not None else None
        message = str(doc["message"]) if doc.get("message") is not None else None
    except (ValueError, KeyError, TypeError):
        state.host_error = (
            f"plugin {state.plugin.name}: progress_notify takes a JSON object "
            '{"progress": N, "total": N, "message": "…"} (total and message optional)'
        )
        state.stop()
        return
    if state.progress is not None:
        state.progress(progress, total, message)


_BODIES: dict[tuple[str, str], Callable[[CallState, Any, list, list], None]] = {
    (ENV, "http_request"): _http_request,
    (ENV, "http_status_code"): _http_status_code,
    (ENV, "http_headers"): _http_headers,
    (ENV, "config_get"): _config_get,
    (USER, "kv_get"): _kv_get,
    (USER, "kv_set"): _kv_set,
    (USER, "kv_delete"): _kv_delete,
    (USER, "log_event"): _log_event,
    (USER, "context_get"): _context_get,
    (USER, "progress_notify"): _progress_notify,
}
_ENV_SIGS = {
    "http_request": (["i64", "i64"], ["i64"]),
    "http_status_code": ([], ["i32"]),
    "http_headers": ([], ["i64"]),
    "config_get": (["i64"], ["i64"]),
}


def _make_functions() -> list[extism.Function]:
    sigs = {(ENV, n): s for n, s in _ENV_SIGS.items()}
    for group in GROUPS.values():
        sigs.update({(USER, n): s for n, s in group.items()})
    missing = set(sigs) - set(_BODIES)
    if missing:  # the catalogue grew: implement it here (the build side already lets plugins import it)
        raise RuntimeError(f"host functions without an implementation: {sorted(missing)}")
    out = []
    for (ns, name), (params, results) in sigs.items():
        sig = ([_TYPES[p] for p in params], [_TYPES[r] for r in results])
        out.append(extism.host_fn(name=name, namespace=ns, signature=sig)(_guarded(_BODIES[(ns, name)])))
    return out


#: Passed as `functions=` to every plugin (never the SDK's process-wide default).
FUNCTIONS: list[extism.Function] = _make_functions()
USER_FUNCTIONS: frozenset[str] = frozenset(n for g in GROUPS.values() for n in g)
