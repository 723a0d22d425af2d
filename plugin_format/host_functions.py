"""The catalogue of host functions the platform's host offers (module `extism:host/user`).

A plugin lists what it needs in `permissions.host_functions`, either a group name (`kv`) or an
exact function name. The build check uses this to decide which `extism:host/user` imports are
declared; the run side links exactly these, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable

ENV_MODULE = "extism:host/env"  # the kernel's functions (input, output, config, vars, HTTP, …)
USER_MODULE = "extism:host/user"  # the platform's catalogue below

#: group -> {function name: (params, results)}; every pointer/length is an i64 kernel offset.
GROUPS: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    # A persistent key/value store private to the plugin.
    "kv": {
        "kv_get": (["i64"], ["i64"]),  # key block -> value block (0 = absent)
        "kv_set": (["i64", "i64"], []),  # key block, value block
        "kv_delete": (["i64"], []),  # key block
    },
    # Structured events into the host's log and the audit log.
    "log": {"log_event": (["i64"], [])},  # message block (text or JSON)
    # The calling agent's request metadata, as a JSON block.
    "context": {"context_get": ([], ["i64"])},
    # Progress of a long call, as a JSON block {"progress": n, "total": t, "message": "…"} (total and
    # message optional); the MCP server sends it as notifications/progress when the client asked.
    "progress": {"progress_notify": (["i64"], [])},
}


def allowed_imports(declared: Iterable[str]) -> set[str]:
    """Function names a plugin may import from `extism:host/user` given its declaration."""
    names: set[str] = set()
    for item in declared:
        names |= set(GROUPS[item]) if item in GROUPS else {item}
    return names
