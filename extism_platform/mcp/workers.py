"""`extism-mcp-server --http HOST:PORT --workers N`: N server processes behind one port.

A plugin call runs on one core (calls release the GIL, but one process's Python around them does
not scale past about one core), so CPU-bound tools use every core only with several processes.

How it is put together:

- The process the user started is the **supervisor**: it loads no plugin. It reserves the public
  port (a `SO_REUSEPORT` socket bound and never listened on: `PORT` 0 is resolved once, here) and
  opens one private loopback listening socket per worker, then starts N copies of the same command
  line with `$EXTISM_MCP_WORKER` set (a JSON slot: index, public port, private socket fd, the
  other workers' private ports, a readiness pipe).
- Each **worker** is a whole server (plugins, grants, audit log — appends are `flock`ed, so the
  workers share one — and kv store) that binds its own `SO_REUSEPORT` listening socket on the
  public port: the kernel spreads new connections over the workers.
- The 2026-07-28 protocol is stateless: any worker answers any request.
- A 2025-11-25 session lives in the worker that created it. `SessionRouter` makes that worker's
  session ids `w<index>.<the SDK's id>` on the way out; a request carrying another worker's id is
  forwarded to that worker's private port and its response streamed back (SSE included). So no
  session map is shared and a client needs no sticky load balancer. With `--replica ID` the ids
  also name the replica (`ID.w<index>.…`) and another replica's are forwarded to it
  (`mcp.replicas`).
- A worker that dies is replaced (same index and private socket; a connection queued there waits
  for the replacement). Its sessions die with it: their requests get the SDK's 404 for an unknown
  session, which tells a 2025 client to initialize again. A worker that exits before it was ready
  (bad options, a plugin that fails to verify) stops the supervisor with that worker's exit code,
  instead of a restart loop.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from extism_platform.mcp.replicas import REPLICA_ID_PATTERN

if TYPE_CHECKING:
    from extism_platform.mcp.replicas import ReplicaDirectory

log = logging.getLogger("extism_platform.mcp.workers")

WORKER_ENV = "EXTISM_MCP_WORKER"
SESSION_HEADER = b"mcp-session-id"
#: which worker answered (and, on a forwarded answer, which one forwarded it): for operators and tests
WORKER_HEADER = b"x-extism-worker"
FORWARDED_HEADER = b"x-extism-forwarded-by"
_OWNED = re.compile(rf"^(?:({REPLICA_ID_PATTERN})\.)?w(\d{{1,4}})\.(.+)\Z".encode())
#: on a request one replica forwards to another: never forwarded again
REPLICA_HOP_HEADER = b"x-extism-replica-hop"
#: response headers a forwarding hop must not copy (HTTP/1.1 hop-by-hop; the ASGI server frames the body)
_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade", b"proxy-connection"}
#: response headers the ASGI server writes itself
_OWN = {b"date", b"server"}
READY_TIMEOUT_S = 120.0
RESTART_BACKOFF_S = 0.5


@dataclass(frozen=True)
class WorkerSlot:
    """What a worker is told by the supervisor (`$EXTISM_MCP_WORKER`)."""

    index: int
    port: int
    private_fd: int
    peers: dict[int, int]  # worker index → its private port on 127.0.0.1
    ready_fd: int

    @classmethod
    def from_env(cls) -> WorkerSlot | None:
        raw = os.environ.get(WORKER_ENV)
        if not raw:
            return None
        doc = json.loads(raw)
        return cls(
            int(doc["index"]),
            int(doc["port"]),
            int(doc["private_fd"]),
            {int(k): int(v) for k, v in doc["peers"].items()},
            int(doc["ready_fd"]),
        )

    def sockets(self, host: str) -> list[socket.socket]:
        """The public SO_REUSEPORT socket (bound here) and the private one (inherited)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        public = socket.socket(
            family, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )  # asyncio sets TCP_NODELAY only on IPPROTO_TCP sockets
        public.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        public.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        public.bind((host, self.port))
        public.listen(2048)
        public.set_inheritable(False)
        private = socket.socket(fileno=self.private_fd)
        private.set_inheritable(False)
        return [public, private]

    def announce_ready(self) -> None:
        try:
            os.write(self.ready_fd, b"1")
            os.close(self.ready_fd)
        except OSError:
            pass  # the supervisor went away; serving is still right


# ---- routing 2025-era sessions to their worker ---------------------------------------------------


class SessionRouter:
    """ASGI wrapper of one worker's app: its session ids carry its index (and, with `--replica`,
    the replica's id); another worker's are forwarded to that worker, another replica's to that
    replica (see the module docstring and `mcp.replicas`)."""

    def __init__(
        self,
        app: Any,
        index: int,
        peers: dict[int, int],
        *,
        replica: str | None = None,
        directory: ReplicaDirectory | None = None,
    ) -> None:
        self.app, self.index, self.peers = app, index, peers
        self.replica, self.directory = replica, directory
        self.prefix = (f"{replica}." if replica else "").encode() + f"w{index}.".encode()
        self.tag = (f"{replica}/" if replica else "").encode() + str(index).encode()
        self._client: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers") or [])
        for i, (name, value) in enumerate(headers):
            if name == SESSION_HEADER:
                owned = _OWNED.match(value)
                if owned is None:
                    break
                replica = owned[1].decode() if owned[1] else None
                if replica != self.replica:
                    if replica is not None and self.replica is not None:
                        await self._to_replica(replica, scope, receive, send)
                        return
                    break  # not one of ours at all: the SDK answers 404 for an unknown session
                if int(owned[2]) != self.index and int(owned[2]) in self.peers:
                    url = f"http://127.0.0.1:{self.peers[int(owned[2])]}"
                    await self._forward(url, f"worker {int(owned[2])}", scope, receive, send, [])
                    return
                headers[i] = (name, owned[3])  # ours: the SDK knows it by its own id
                scope = {**scope, "headers": headers}
                break

        async def tagged(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [
                        *(
                            (n, self.prefix + v if n.lower() == SESSION_HEADER else v)
                            for n, v in message.get("headers", [])
                        ),
                        (WORKER_HEADER, self.tag),
                    ],
                }
            await send(message)

        await self.app(scope, receive, tagged)

    async def _to_replica(self, replica: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """A session of replica `replica`: forward once, to the endpoint the directory gives."""
        import anyio  # noqa: PLC0415

        hopped = any(n == REPLICA_HOP_HEADER for n, _ in scope.get("headers") or [])
        url = None
        if not hopped and self.directory is not None:
            url = await anyio.to_thread.run_sync(self.directory.lookup, replica)
        if url is None:
            why = "was forwarded here but is not held here" if hopped else "is not in this replica's directory"
            await _session_gone(send, 404, f"replica {replica}, which holds this session, {why}; initialize again")
            return
        parts = urlsplit(url)
        forwarded = await self._forward(
            f"{parts.scheme}://{parts.netloc}",
            f"replica {replica}",
            scope,
            receive,
            send,
            [(REPLICA_HOP_HEADER, (self.replica or "").encode())],
            keep_host=False,
            unreachable=404,  # the session is lost with its replica: the client initializes again
        )
        if not forwarded and self.directory is not None:
            self.directory.forget(replica)

    async def _forward(
        self,
        base: str,
        owner: str,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        extra: list[tuple[bytes, bytes]],
        *,
        keep_host: bool = True,
        unreachable: int = 503,
    ) -> bool:
        """Send the request to `base` (a worker's private port, another replica) and stream its
        answer back; the upstream request is dropped when the client disconnects (an SSE stream
        would linger). False when `base` could not be reached (the client got a 503/404)."""
        import anyio  # noqa: PLC0415
        import httpx2  # noqa: PLC0415 - the mcp SDK's HTTP client

        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=httpx2.Timeout(None, connect=5.0))
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return True
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        url = base + path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        headers = [(n, v) for n, v in scope.get("headers") or [] if n.lower() not in _HOP and n.lower() != b"host"]
        host = dict(scope.get("headers") or []).get(b"host")
        if host is not None and keep_host:
            headers.append((b"host", host))  # the SDK checks Host on loopback: keep the client's
        headers += extra
        request = self._client.build_request(scope["method"], url, headers=headers, content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx2.TransportError as exc:
            await _session_gone(
                send,
                unreachable,
                f"{owner}, which holds this session, cannot be reached ({type(exc).__name__}); initialize again",
            )
            return False
        try:
            async with anyio.create_task_group() as tg:

                async def watch_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()

                tg.start_soon(watch_disconnect)
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": [
                            *((n, v) for n, v in response.headers.raw if n.lower() not in _HOP | _OWN),
                            (FORWARDED_HEADER, self.tag),
                        ],
                    }
                )
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                tg.cancel_scope.cancel()
        finally:
            await response.aclose()
        return True


async def _session_gone(send: Any, status: int, text: str) -> None:
    payload = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": text}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# ---- the supervisor ------------------------------------------------------------------------------


def _reserve(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, port))  # never listened on: it only holds the port for the workers' sockets
    return s


def supervise(host: str, port: int, workers: int, argv: list[str], announce: Callable[[str], None]) -> int:
    """Run `workers` copies of `argv` (the server's own command line) behind host:port until
    SIGTERM/SIGINT; replace a worker that dies. Returns the exit code."""
    reserved = _reserve(host, port)
    port = reserved.getsockname()[1]
    privates = []
    for _ in range(workers):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        s.bind(("127.0.0.1", 0))
        s.listen(512)
        privates.append(s)
    peers = {i: s.getsockname()[1] for i, s in enumerate(privates)}
    procs: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start(i: int) -> tuple[subprocess.Popen[bytes], int]:
        r, w = os.pipe()
        slot = {"index": i, "port": port, "private_fd": privates[i].fileno(), "peers": peers, "ready_fd": w}
        env = {**os.environ, WORKER_ENV: json.dumps(slot)}
        proc = subprocess.Popen(argv, env=env, pass_fds=(privates[i].fileno(), w), stdin=subprocess.DEVNULL)
        os.close(w)
        return proc, r

    def ready(proc: subprocess.Popen[bytes], r: int, deadline: float) -> bool:
        try:
            while time.monotonic() < deadline and not stopping:
                readable, _, _ = select.select([r], [], [], 0.2)
                if readable:
                    return os.read(r, 1) == b"1"
                if proc.poll() is not None:
                    return False
            return False
        finally:
            os.close(r)

    def shutdown() -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    try:
        pending = {i: start(i) for i in range(workers)}
        for i, (proc, _) in pending.items():
            procs[i] = proc
        for i, (proc, r) in pending.items():
            if not ready(proc, r, time.monotonic() + READY_TIMEOUT_S):
                if stopping:
                    return 0
                code = proc.poll()
                log.error(
                    "worker %d (pid %d) %s before it was ready; stopping",
                    i,
                    proc.pid,
                    f"exited with code {code}" if code is not None else "did not get ready",
                )
                return code if code else 1
        announce(
            f"{workers} workers at http://{host}:{port}/mcp (pids "
            + ", ".join(str(p.pid) for p in procs.values())
            + ")"
        )
        while not stopping:
            time.sleep(0.1)
            for i, proc in list(procs.items()):
                code = proc.poll()
                if code is None or stopping:
                    continue
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                log.warning("worker %d (pid %d) %s; starting a replacement", i, proc.pid, how)
                time.sleep(RESTART_BACKOFF_S)
                fresh, r = start(i)
                procs[i] = fresh
                if ready(fresh, r, time.monotonic() + READY_TIMEOUT_S):
                    log.warning("worker %d replaced (pid %d)", i, fresh.pid)
        return 0
    finally:
        shutdown()
        reserved.close()
        for s in privates:
            s.close()
