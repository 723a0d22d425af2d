"""Where the platform keeps things on a machine (XDG base directories, each overridable by env).

| what | env | default |
|---|---|---|
| cache: toolchains, compiler caches, downloaded blobs | `EXTISM_PLATFORM_CACHE` | `$XDG_CACHE_HOME/extism-platform` |
| state: the audit log, the kv store | `EXTISM_PLATFORM_STATE` | `$XDG_STATE_HOME/extism-platform` |
| config: signing key, `config.yaml` | `EXTISM_PLATFORM_CONFIG` | `$XDG_CONFIG_HOME/extism-platform` |
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "EXTISM_PLATFORM_CACHE"
STATE_ENV = "EXTISM_PLATFORM_STATE"
CONFIG_ENV = "EXTISM_PLATFORM_CONFIG"
AUDIT_ENV = "EXTISM_AUDIT_LOG"


def _xdg(override_env: str, xdg_env: str, fallback: tuple[str, ...]) -> Path:
    override = os.environ.get(override_env)
    if override:
        return Path(override).expanduser().resolve()
    xdg = os.environ.get(xdg_env)
    base = Path(xdg).expanduser() if xdg else Path.home().joinpath(*fallback)
    return (base / "extism-platform").resolve()


def cache_dir() -> Path:
    """`$EXTISM_PLATFORM_CACHE`, else `$XDG_CACHE_HOME/extism-platform`, else `~/.cache/extism-platform`."""
    return _xdg(CACHE_ENV, "XDG_CACHE_HOME", (".cache",))


def state_dir() -> Path:
    """`$EXTISM_PLATFORM_STATE`, else `$XDG_STATE_HOME/extism-platform`, else
    `~/.local/state/extism-platform`."""
    return _xdg(STATE_ENV, "XDG_STATE_HOME", (".local", "state"))


def config_dir() -> Path:
    """`$EXTISM_PLATFORM_CONFIG`, else `$XDG_CONFIG_HOME/extism-platform`, else `~/.config/extism-platform`."""
    return _xdg(CONFIG_ENV, "XDG_CONFIG_HOME", (".config",))


def user_config_file() -> Path:
    """`<config dir>/config.yaml`: the user's settings (`publish: {registry: …, keys: …}`)."""
    return config_dir() / "config.yaml"


def toolchains_dir() -> Path:
    return cache_dir() / "toolchains"


def default_signing_key() -> Path:
    """Where `extism-plugin keygen` puts the key, and where builds look last."""
    return config_dir() / "signing.key"


def default_audit_log() -> Path:
    """`$EXTISM_AUDIT_LOG`, else `<state dir>/audit.jsonl`."""
    override = os.environ.get(AUDIT_ENV)
    return Path(override).expanduser().resolve() if override else state_dir() / "audit.jsonl"


def default_kv_path() -> Path:
    return state_dir() / "kv.sqlite3"
