"""The access log of `extism-registry serve --access-log FILE`: one JSON line per request, nothing personal.

Each line is `{"time", "method", "path", "status", "bytes"}` (time in UTC, the path without its query
string). No client address, no user agent, no referrer, no headers: the log exists for download figures
(`extism-registry stats`), and what is never written can never leak.

Writes: one `write(2)` of a whole line on an `O_APPEND` descriptor under an exclusive `flock`, so lines
from several threads or worker processes never interleave and a kill -9 leaves at most a missing
line, never a torn one that `stats` would miscount (a torn tail is skipped as noise anyway).
Bounded: when the file would pass `max_bytes` (default 16 MiB) it is renamed to `FILE.1` (`FILE.1` to
`FILE.2`, …, keeping `keep` old files, default 4) and a new file is started; `stats FILE FILE.1 …`
reads them all.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_MAX_BYTES = 16 << 20
DEFAULT_KEEP = 4


class AccessLog:
    """Append request lines to `path`, rotating it past `max_bytes`."""

    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, keep: int = DEFAULT_KEEP) -> None:
        self.path = Path(path)
        self.max_bytes = max(1024, int(max_bytes))
        self.keep = max(1, int(keep))
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _is_current(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def _open(self) -> int:
        if self._fd is not None:
            if self._is_current(self._fd):  # else another process rotated it away: follow to the new file
                return self._fd
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        return self._fd

    def _rotate(self) -> None:
        for i in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def record(self, method: str, target: str, status: int, size: int, when: datetime | None = None) -> None:
        """One request: `target` is the request line's path (its query string is dropped)."""
        line = (
            json.dumps(
                {
                    "time": (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "method": method,
                    "path": urlsplit(target).path,
                    "status": int(status),
                    "bytes": int(size),
                },
                separators=(",", ":"),
            )
            + "\n"
        ).encode()
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if not self._is_current(fd):  # rotated while we waited
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    fd = self._open()
                    fcntl.flock(fd, fcntl.LOCK_EX)
                if os.fstat(fd).st_size + len(line) > self.max_bytes and os.fstat(fd).st_size > 0:
                    self._rotate()
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    fd = self._open()
                    fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, line)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
