"""Watching plugin sources for `extism-mcp-server --watch`: a cheap fingerprint to poll, and how to
load the sources again.

The fingerprint of a build directory is the name, mtime and size of each artifact file in it
(`*.wasm`, `*.plugin.json`, `*.sig`; nothing is read); of a small file (extism.yaml, extism.lock,
a grants file) its bytes' sha256. A missing path has a fingerprint too, so a directory emptied by
a clean rebuild and filled again is seen as two changes. Loading again goes through the same
source functions, keys and `--allow-unsigned` as at start-up: every signature is verified again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from extism_platform.grants import Grant
from extism_platform.host.runtime import Artifact

ARTIFACT_SUFFIXES = (".wasm", ".plugin.json", ".sig")
SMALL_FILE_MAX = 4 << 20  # extism.yaml, extism.lock and grants files are far smaller; hash at most this


def _dir_fingerprint(path: Path) -> Hashable:
    try:
        entries = os.scandir(path)
    except FileNotFoundError:
        return ("missing",)
    except NotADirectoryError:
        return ("not a directory",)
    except OSError as exc:
        return ("error", exc.errno)
    out = []
    with entries:
        for entry in entries:
            if not entry.name.endswith(ARTIFACT_SUFFIXES):
                continue
            try:
                st = entry.stat()
            except OSError:  # removed between the listing and the stat
                continue
            out.append((entry.name, st.st_mtime_ns, st.st_size))
    return tuple(sorted(out))


def _file_fingerprint(path: Path) -> Hashable:
    try:
        with path.open("rb") as f:
            return hashlib.sha256(f.read(SMALL_FILE_MAX)).hexdigest()
    except FileNotFoundError:
        return ("missing",)
    except OSError as exc:
        return ("error", exc.errno)


@dataclass(frozen=True)
class Watched:
    """What to poll (`dirs`: build directories; `files`: small files read whole) and how to load the
    sources again: `load()` → (grants, every artifact to serve), raising `LoadError` (or another
    `ExtismPlatformError`) when a source cannot be loaded or verified."""

    dirs: Sequence[Path]
    files: Sequence[Path]
    load: Callable[[], tuple[dict[str, Grant], list[Artifact]]]

    def fingerprint(self) -> Hashable:
        return (
            tuple(_dir_fingerprint(d) for d in self.dirs),
            tuple(_file_fingerprint(f) for f in self.files),
        )

    def describe(self) -> str:
        return ", ".join(str(p) for p in (*self.dirs, *self.files))
