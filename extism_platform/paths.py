"""Where the run side keeps state that must survive a cache wipe: the audit log and the kv store."""

from __future__ import annotations

import os
from pathlib import Path

STATE_ENV = "EXTISM_PLATFORM_STATE"
AUDIT_ENV = "EXTISM_AUDIT_LOG"


def state_dir() -> Path:
    """`$EXTISM_PLATFORM_STATE`, else `$XDG_STATE_HOME/extism-platform`, else
    `~/.local/state/extism-platform`."""
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override).expanduser().resolve()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return (base / "extism-platform").resolve()


def default_audit_log() -> Path:
    """`$EXTISM_AUDIT_LOG`, else `<state dir>/audit.jsonl`."""
    override = os.environ.get(AUDIT_ENV)
    return Path(override).expanduser().resolve() if override else state_dir() / "audit.jsonl"


def default_kv_path() -> Path:
    return state_dir() / "kv.sqlite3"
