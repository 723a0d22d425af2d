"""The `kv` host functions' store: each plugin sees only its own keys.

Two backends with the same semantics, chosen by `open_kv(URL)` (`--kv`, `$EXTISM_KV_URL` or
extism.yaml's `kv:`):

- `KVStore`, one SQLite file (the embedded default, `sqlite:///PATH` or a plain path);
- `RedisKVStore`, a Redis server (`redis://[:PASSWORD@]HOST:PORT/DB`, `rediss://` for TLS), so that
  several server replicas behind a load balancer share one store.

The partition is the plugin's verified identity (`LoadedPlugin.kv_namespace`: signer key id +
name, or `unsigned/<name>`), so a build that merely claims another plugin's name does not read its
data. What the host functions promise holds on both: `kv_get`/`kv_set`/`kv_delete` are each one
atomic operation (a reader sees the old value or the new one, never a mix), a key is at most
`MAX_KEY_BYTES` and a value at most `MAX_VALUE_BYTES` (checked before anything is written), and an
absent key reads as None, and `apply` commits a batch of writes in one transaction, all or none, only
if the keys it is told to expect still hold what the caller read (else `KVConflictError`): the
package manager commits a lifecycle hook's writes and its install record that way
(`extism_platform.hooks`). The SQLite file (and its -wal/-shm files, which copy its mode) is created
0600: plugins' data is nobody else's business on a shared machine. A Redis URL's password never
appears in an error or log line (`registry_static.redact`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from plugin_format.errors import RunError

MAX_KEY_BYTES = 1024
MAX_VALUE_BYTES = 1 << 20
KV_ENV = "EXTISM_KV_URL"
#: Redis key of a plugin's namespace (one hash per namespace: field = the plugin's key)
REDIS_PREFIX = "extism-kv:"


#: (plugin namespace, key, value — None: delete / expected absent)
Write = tuple[str, bytes, bytes | None]


class KVConflictError(RunError):
    """`apply`'s expected values changed before it committed (another command wrote them meanwhile)."""


class KV(Protocol):
    """What the host functions (get/set/delete) and the package manager (apply) use of a kv backend."""

    def get(self, plugin: str, key: bytes) -> bytes | None: ...
    def set(self, plugin: str, key: bytes, value: bytes) -> None: ...
    def delete(self, plugin: str, key: bytes) -> None: ...
    def apply(self, writes: Sequence[Write], expect: Sequence[Write] = ()) -> None: ...
    def close(self) -> None: ...


def check_sizes(key: bytes, value: bytes) -> None:
    if len(key) > MAX_KEY_BYTES or len(value) > MAX_VALUE_BYTES:
        raise ValueError(f"kv_set: key ≤ {MAX_KEY_BYTES} bytes and value ≤ {MAX_VALUE_BYTES} bytes")


class KVStore:
    """A persistent key/value store in one SQLite file, partitioned by plugin identity (thread-safe).

    The file is created (0600) at once, so a state directory that cannot be written is reported at
    start; SQLite itself is opened on the first operation: most servers' plugins never use kv."""

    def __init__(self, path: Path | None) -> None:
        """`path=None` keeps the store in memory (tests, `--no-state`)."""
        self.path = path
        self.describe = f"sqlite:{path}" if path is not None else "sqlite (in memory)"
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Create it 0600 before SQLite opens it (SQLite would use the umask, often 0644).
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
                os.chmod(path, 0o600)
        except OSError as exc:
            raise RunError(f"kv store {path}: {exc} (choose another directory with --state-dir)") from None
        self._lock = threading.Lock()
        self._conn: Any = None

    @property
    def _db(self) -> Any:
        """The SQLite connection, opened on first use (call with `_lock` held)."""
        if self._conn is None:
            import sqlite3  # noqa: PLC0415

            path = self.path
            try:
                db = sqlite3.connect(
                    ":memory:" if path is None else str(path), check_same_thread=False, isolation_level=None, timeout=10
                )
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS kv (plugin TEXT NOT NULL, key BLOB NOT NULL, "
                    "value BLOB NOT NULL, PRIMARY KEY (plugin, key))"
                )
            except sqlite3.Error as exc:
                raise RunError(f"kv store {path}: {exc} (choose another directory with --state-dir)") from None
            self._conn = db
        return self._conn

    def get(self, plugin: str, key: bytes) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE plugin = ? AND key = ?", (plugin, key)).fetchone()
        return bytes(row[0]) if row else None

    def set(self, plugin: str, key: bytes, value: bytes) -> None:
        check_sizes(key, value)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO kv (plugin, key, value) VALUES (?, ?, ?)", (plugin, key, value))

    def delete(self, plugin: str, key: bytes) -> None:
        with self._lock:
            self._db.execute("DELETE FROM kv WHERE plugin = ? AND key = ?", (plugin, key))

    def apply(self, writes: Sequence[Write], expect: Sequence[Write] = ()) -> None:
        """(plugin, key, value or None to delete) writes in one transaction: all or none, even
        across a crash; first, under the same write lock, each of `expect` must still hold its value
        (None: absent), else nothing is written and `KVConflictError` is raised."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for plugin, key, want in expect:
                    row = self._db.execute(
                        "SELECT value FROM kv WHERE plugin = ? AND key = ?", (plugin, key)
                    ).fetchone()
                    if (bytes(row[0]) if row else None) != want:
                        raise KVConflictError(_conflict(self.describe, plugin, key))
                for plugin, key, value in writes:
                    if value is None:
                        self._db.execute("DELETE FROM kv WHERE plugin = ? AND key = ?", (plugin, key))
                    else:
                        self._db.execute(
                            "INSERT OR REPLACE INTO kv (plugin, key, value) VALUES (?, ?, ?)", (plugin, key, value)
                        )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class RedisKVStore:
    """The same store on a Redis server (the `redis` client's connection pool is thread-safe).

    A plugin's namespace is one Redis hash, `extism-kv:<namespace>`, so namespaces cannot overlap
    whatever the keys hold; each operation is one command (HGET / HSET / HDEL), atomic on the server.
    Connection failures become `RunError`s naming the redacted URL."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        import redis  # noqa: PLC0415 - only a server that uses Redis pays for the import

        self.url = url
        from registry_static.redact import redact_text  # noqa: PLC0415

        self.describe = redact_text(url)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        try:
            self._client: Any = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
            )
            self._client.ping()
        except self._errors as exc:
            raise RunError(
                f"kv store {self.describe}: {self._reason(exc)} (is the Redis server running? check --kv)"
            ) from None
        except ValueError as exc:  # a malformed URL
            raise RunError(f"kv store {self.describe}: {self._reason(exc)}") from None

    def _reason(self, exc: BaseException) -> str:
        from registry_static.redact import redact_text  # noqa: PLC0415

        text = redact_text(str(exc))
        password = unquote(urlsplit(self.url).password or "")
        return text.replace(password, "***") if password else text

    def _do(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._errors as exc:
            raise RunError(f"kv store {self.describe}: {self._reason(exc)}") from None

    def get(self, plugin: str, key: bytes) -> bytes | None:
        value = self._do(self._client.hget, REDIS_PREFIX + plugin, key)
        return bytes(value) if value is not None else None

    def set(self, plugin: str, key: bytes, value: bytes) -> None:
        check_sizes(key, value)
        self._do(self._client.hset, REDIS_PREFIX + plugin, key, value)

    def delete(self, plugin: str, key: bytes) -> None:
        self._do(self._client.hdel, REDIS_PREFIX + plugin, key)

    def get_raw(self, key: str) -> bytes | None:
        """A key outside every plugin's namespace (the replica directory's); errors as for the kv calls."""
        value = self._do(self._client.get, key)
        return bytes(value) if value is not None else None

    def set_raw(self, key: str, value: str, ttl_s: int) -> None:
        self._do(partial(self._client.set, ex=ttl_s), key, value)

    def apply(self, writes: Sequence[Write], expect: Sequence[Write] = ()) -> None:
        """The writes in one MULTI/EXEC, all or none; the hashes of `expect` are WATCHed and each
        expected value checked first (a concurrent change makes Redis refuse the EXEC and the check
        runs again), else `KVConflictError` and nothing written."""

        def transaction(pipe: Any) -> None:
            for plugin, key, want in expect:
                got = pipe.hget(REDIS_PREFIX + plugin, key)  # WATCH mode: executed at once
                if (bytes(got) if got is not None else None) != want:
                    raise KVConflictError(_conflict(self.describe, plugin, key))
            pipe.multi()
            for plugin, key, value in writes:
                if value is None:
                    pipe.hdel(REDIS_PREFIX + plugin, key)
                else:
                    check_sizes(key, value)
                    pipe.hset(REDIS_PREFIX + plugin, key, value)

        watched = sorted({REDIS_PREFIX + plugin for plugin, _, _ in expect})
        self._do(self._client.transaction, transaction, *watched)

    def close(self) -> None:
        self._client.close()


def _conflict(store: str, plugin: str, key: bytes) -> str:
    return (
        f"kv store {store}: {plugin} {key.decode('utf-8', 'replace')} was changed by another command "
        "meanwhile; nothing was written (run the command again)"
    )


def choose_kv_url(explicit: str | None, *configs: Any) -> str | None:
    """The kv store's URL by the one rule every command that opens it follows (the server, and the
    package manager's lifecycle hooks, which must migrate the store the server reads): `explicit`
    (`--kv`), else `$EXTISM_KV_URL`, else `kv:` of the first of `configs` (extism.yaml documents,
    None skipped) that has one; None: the embedded SQLite file."""
    import os  # noqa: PLC0415

    if explicit:
        return str(explicit)
    if os.environ.get(KV_ENV):
        return os.environ[KV_ENV]
    for doc in configs:
        if doc is not None and getattr(doc, "kv", None):
            return str(doc.kv)
    return None


def open_kv(url: str | None, default_path: Path | None) -> KV:
    """The kv backend `url` names: `redis://…`/`rediss://…`/`unix://…` → Redis; `sqlite:///PATH` or
    a path → that SQLite file; None → SQLite at `default_path`."""
    if not url:
        return KVStore(default_path)
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss", "unix"):
        return RedisKVStore(url)
    if scheme == "sqlite":
        return KVStore(Path(unquote(urlsplit(url).path)))
    if scheme:
        from registry_static.redact import redact_text  # noqa: PLC0415

        raise RunError(
            f"--kv {redact_text(url)}: unknown kv backend {scheme!r} "
            "(use redis://HOST:PORT/DB, rediss://…, sqlite:///PATH or a file path)"
        )
    return KVStore(Path(url).expanduser())


class StagedKV:
    """Writes held back over another store until `commit()`: reads see the staged writes first.

    Lifecycle hooks run on one (`extism_platform.hooks`), so a hook that fails half-way through a
    migration leaves the real store exactly as it was; only a command whose every hook succeeded
    commits, in one `apply` of the store beneath."""

    def __init__(self, base: KV) -> None:
        self.base = base
        self._staged: dict[tuple[str, bytes], bytes | None] = {}  # None: deleted
        self._lock = threading.Lock()

    def get(self, plugin: str, key: bytes) -> bytes | None:
        with self._lock:
            if (plugin, key) in self._staged:
                return self._staged[(plugin, key)]
        return self.base.get(plugin, key)

    def set(self, plugin: str, key: bytes, value: bytes) -> None:
        check_sizes(key, value)
        with self._lock:
            self._staged[(plugin, key)] = bytes(value)

    def delete(self, plugin: str, key: bytes) -> None:
        with self._lock:
            self._staged[(plugin, key)] = None

    @property
    def pending(self) -> int:
        return len(self._staged)

    def apply(self, writes: Sequence[Write], expect: Sequence[Write] = ()) -> None:
        """Stage the writes (they reach the store beneath with `commit`), if `expect` holds here."""
        for plugin, key, want in expect:
            if self.get(plugin, key) != want:
                raise KVConflictError(_conflict("(staged)", plugin, key))
        for plugin, key, value in writes:
            if value is None:
                self.delete(plugin, key)
            else:
                self.set(plugin, key, value)

    def commit(self, expect: Sequence[Write] = ()) -> None:
        """Apply the staged writes to the store beneath in one transaction (its `apply`), checking
        `expect` there first (`KVConflictError`: nothing written)."""
        with self._lock:
            staged, self._staged = self._staged, {}
        self.base.apply([(plugin, key, value) for (plugin, key), value in staged.items()], expect)

    def discard(self) -> None:
        with self._lock:
            self._staged.clear()

    def close(self) -> None:
        """The store beneath belongs to whoever made it: closing the stage does not close it."""
        self.discard()
