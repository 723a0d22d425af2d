"""Where the files the build side ships live: `pdks/` and `templates/`.

In a source checkout (or editable install) that is the repository root; in an installed wheel
the two folders are shipped inside the package as `hatch_extism/_data/`.
"""

from __future__ import annotations

import os
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


PROJECT_LINK = ".extism/pdk"


def link_pdk(project_dir: Path, language: str) -> Path:
    """Point `<project>/.extism/pdk` at this installation's PDK for `language` (a symlink, replaced
    atomically when it points elsewhere), so editor files and plain cargo/npm/go commands name a
    path relative to the project instead of one on the machine that ran `init`. Builds refresh it:
    after a reinstall or upgrade of the platform, or on another machine, it points at the PDK that
    is there. `.extism/` holds a `.gitignore`: it is never committed."""
    link = project_dir / PROJECT_LINK
    target = pdk_dir(language)
    link.parent.mkdir(parents=True, exist_ok=True)
    ignore = link.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# made by extism-platform builds: a link to the installed PDK\n*\n", encoding="utf-8")
    try:
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return link
    except OSError:
        pass
    tmp = link.with_name(f".pdk.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp, target_is_directory=True)
    os.replace(tmp, link)
    return link
