"""Where the files the build side ships live: `pdks/` and `templates/`.

In a source checkout (or editable install) that is the repository root; in an installed wheel
the two folders are shipped inside the package as `hatch_extism/_data/`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_root() -> Path:
    """The directory holding `pdks/` and `templates/`."""
    shipped = _PACKAGE_DIR / "_data"
    if (shipped / "pdks").is_dir():
        return shipped
    return _PACKAGE_DIR.parent


def pdk_dir(language: str) -> Path:
    return data_root() / "pdks" / language


def templates_dir() -> Path:
    return data_root() / "templates"
