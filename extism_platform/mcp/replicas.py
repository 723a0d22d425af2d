"""Replicas on several machines behind one load balancer, serving 2025-11-25 sessions without stickiness.

The 2026-07-28 protocol is stateless: any replica answers any request, and the kv store they share
(`--kv redis://…`) is the only state. A 2025-11-25 session, though, lives in the process that
answered its `initialize` (the SDK keeps its transport in memory). Two designs would carry it
across replicas: a session map every request reads and writes, or session ids that say where they
live. This is the second, the one `--workers` already uses inside one machine:

- `--replica ID` names this replica. Its session ids become `ID.w<worker>.<the SDK's id>`.
- A request whose session id names another replica is forwarded to that replica's endpoint (the
  client's headers kept, so the owner checks the bearer token and Host itself) and its answer,
  SSE streams included, relayed back. The owner's own router then finds the worker.
- Where replica ID is reachable comes from the directory: `--peer ID=URL` given on the command line
  and, when the kv store is Redis, the replicas' own registrations there (each replica sets
  `extism-mcp:replica:<ID>` to its `--advertise URL` every `HEARTBEAT_S`, expiring after `TTL_S`), so
  replicas can come and go without reconfiguring the others.
- A forwarded request carries `x-extism-replica-hop`; a replica never forwards such a request again
  (no loops when two directories disagree), and answers 404 for a session it does not hold.
- A session whose replica is gone (not in the directory, or unreachable) gets 404 with a JSON-RPC
  error naming the replica: the MCP transport's signal for a 2025 client to initialize again.

So no per-session state is shared, a request costs one extra hop only when the balancer picked
another replica than the session's, and nothing is written per request. The directory is trusted
configuration, like the kv store: whoever can write the Redis keys can redirect 2025-era traffic
(the bearer token is still checked by the replica that answers).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from plugin_format.errors import ExtismPlatformError, RunError
from registry_static.redact import redact_text

if TYPE_CHECKING:
    from extism_platform.host.kv import RedisKVStore

log = logging.getLogger("extism_platform.mcp.replicas")

#: a replica id, as `--replica` takes it and as session ids carry it (`mcp.workers`)
REPLICA_ID_PATTERN = "[a-z0-9][a-z0-9-]{0,31}"
REPLICA_ID = re.compile(rf"^{REPLICA_ID_PATTERN}\Z")
REDIS_KEY = "extism-mcp:replica:"
HEARTBEAT_S = 10.0
TTL_S = 30
LOOKUP_CACHE_S = 5.0


def check_replica_id(value: str, flag: str = "--replica") -> str:
    if not REPLICA_ID.match(value):
        raise ExtismPlatformError(
            f"{flag} {value!r}: a replica id is 1–32 of a-z, 0-9 and '-', starting with a letter or digit"
        )
    return value


def check_endpoint(value: str, flag: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ExtismPlatformError(
            f"{flag} {redact_text(value)!r}: give the replica's MCP endpoint, http(s)://HOST:PORT/mcp"
        )
    if parts.username or parts.password:
        raise ExtismPlatformError(
            f"{flag} {redact_text(value)!r}: no credentials in the URL (the client's token is passed on)"
        )
    return value


def parse_peers(items: list[str]) -> dict[str, str]:
    """`--peer ID=URL` flags → {id: endpoint}."""
    peers: dict[str, str] = {}
    for item in items:
        name, sep, url = item.partition("=")
        if not sep:
            raise ExtismPlatformError(f"--peer {item!r}: write ID=URL, e.g. --peer b=http://10.0.0.2:8765/mcp")
        peers[check_replica_id(name.strip(), "--peer")] = check_endpoint(url.strip(), f"--peer {name.strip()}=")
    return peers


class ReplicaDirectory:
    """Where each replica's endpoint is: static `--peer`s first, then the registrations in the
    Redis kv store (`store`, when the kv store is Redis)."""

    def __init__(self, replica: str, peers: Mapping[str, str], store: RedisKVStore | None = None) -> None:
        self.replica, self.peers, self.store = replica, dict(peers), store
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, replica: str) -> str | None:
        """The endpoint of `replica`, or None when no directory knows it (blocking: call off the loop)."""
        if replica in self.peers:
            return self.peers[replica]
        if self.store is None:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(replica)
            if hit is not None and now - hit[0] < LOOKUP_CACHE_S:
                return hit[1]
        try:
            raw = self.store.get_raw(REDIS_KEY + replica)
        except RunError as exc:
            log.warning("replica directory: %s", exc)
            return None
        url = raw.decode() if raw is not None else None
        with self._lock:
            self._cache[replica] = (now, url)
        return url

    def forget(self, replica: str) -> None:
        """After a failed forward: look it up again next time."""
        with self._lock:
            self._cache.pop(replica, None)

    def register(self, advertise: str) -> None:
        """Keep `extism-mcp:replica:<this id>` = `advertise` in Redis while the process lives (a
        daemon thread). The first write happens before this returns, so a Redis that is down fails
        the start (the error names the redacted URL)."""
        if self.store is None:
            return
        store, key = self.store, REDIS_KEY + self.replica
        store.set_raw(key, advertise, TTL_S)

        def beat() -> None:
            while True:
                time.sleep(HEARTBEAT_S)
                try:
                    store.set_raw(key, advertise, TTL_S)
                except RunError as exc:
                    log.warning("replica %s: cannot renew its registration: %s", self.replica, exc)

        threading.Thread(target=beat, name=f"replica-{self.replica}-heartbeat", daemon=True).start()
