"""Atomic file writes: every registry, cache, lock, key and artifact write in the platform goes here."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from plugin_format import faults


def atomic_write(path: Path, data: bytes, *, fsync: bool = True, mode: int | None = None) -> None:
    """Write via a temporary file in the same directory and rename: readers never see half a file.

    The temporary file is created private (0600) and given `mode` (default 0644) just before the
    rename, so a secret written with `mode=0o600` is never readable by others, not even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode if mode is not None else 0o644)
        faults.write_point()  # crash tests only: a kill -9 between the complete temp file and the rename
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, fsync: bool = True) -> None:
    """`atomic_write` of UTF-8 text."""
    atomic_write(path, text.encode("utf-8"), fsync=fsync)
