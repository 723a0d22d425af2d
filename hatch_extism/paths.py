"""Where the platform keeps things: the cache, installed toolchains, the PDKs."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def cache_dir() -> Path:
    """The platform cache: `$EXTISM_PLATFORM_CACHE`, else `$XDG_CACHE_HOME/extism-platform`,
    else `~/.cache/extism-platform`. Toolchains, compiler caches and downloaded blobs live here."""
    override = os.environ.get("EXTISM_PLATFORM_CACHE")
    if override:
        return Path(override).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "extism-platform").resolve()


def toolchains_dir() -> Path:
    return cache_dir() / "toolchains"


def data_root() -> Path:
    """The directory holding `pdks/` and `templates/`.

    In a source checkout (or editable install) that is the repository root; in an installed
    wheel the two folders are shipped inside the package as `hatch_extism/_data/`.
    """
    shipped = _PACKAGE_DIR / "_data"
    if (shipped / "pdks").is_dir():
        return shipped
    return _PACKAGE_DIR.parent


def pdk_dir(language: str) -> Path:
    return data_root() / "pdks" / language


def templates_dir() -> Path:
    return data_root() / "templates"
