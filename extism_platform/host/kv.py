"""The `kv` host functions' store: one SQLite file, each plugin sees only its own keys.

The partition is the plugin's verified identity (`LoadedPlugin.kv_namespace`: signer key id +
name, or `unsigned/<name>`), so a build that merely claims another plugin's name does not read its
data. The file (and SQLite's -wal/-shm files, which copy its mode) is created 0600: plugins' data
is nobody else's business on a shared machine."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from plugin_format.errors import RunError

MAX_KEY_BYTES = 1024
MAX_VALUE_BYTES = 1 << 20


class KVStore:
    """A persistent key/value store partitioned by plugin identity (thread-safe)."""

    def __init__(self, path: Path | None) -> None:
        """`path=None` keeps the store in memory (tests, `--no-state`)."""
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Create it 0600 before SQLite opens it (SQLite would use the umask, often 0644).
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
                os.chmod(path, 0o600)
            self._db = sqlite3.connect(
                ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None, timeout=10
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS kv (plugin TEXT NOT NULL, key BLOB NOT NULL, "
                "value BLOB NOT NULL, PRIMARY KEY (plugin, key))"
            )
        except (OSError, sqlite3.Error) as exc:
            raise RunError(f"kv store {path}: {exc} (choose another directory with --state-dir)") from None
        self._lock = threading.Lock()

    def get(self, plugin: str, key: bytes) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE plugin = ? AND key = ?", (plugin, key)).fetchone()
        return bytes(row[0]) if row else None

    def set(self, plugin: str, key: bytes, value: bytes) -> None:
        if len(key) > MAX_KEY_BYTES or len(value) > MAX_VALUE_BYTES:
            raise ValueError(f"kv_set: key ≤ {MAX_KEY_BYTES} bytes and value ≤ {MAX_VALUE_BYTES} bytes")
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO kv (plugin, key, value) VALUES (?, ?, ?)", (plugin, key, value))

    def delete(self, plugin: str, key: bytes) -> None:
        with self._lock:
            self._db.execute("DELETE FROM kv WHERE plugin = ? AND key = ?", (plugin, key))

    def close(self) -> None:
        with self._lock:
            self._db.close()
