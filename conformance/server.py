"""The runner's loopback HTTP server (see CONTRACT.md for its routes)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: TestServer

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.count()
        if self.path == "/hello":
            self._reply(200, b"hello from the runner")
        elif self.path == "/header":
            self._reply(200, self.headers.get("X-Conformance", "").encode())
        elif self.path.startswith("/status/") and self.path[8:].isdigit():
            code = int(self.path[8:])
            self._reply(code, f"status {code}".encode())
        else:
            self._reply(404, b"not found")

    def do_POST(self) -> None:  # noqa: N802
        self.server.count()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/echo":
            self._reply(404, b"not found")
            return
        head = f"{self.command}|{self.headers.get('X-Conformance', '')}|{self.headers.get('Content-Type', '')}|"
        self._reply(201, head.encode() + body)

    def log_message(self, format: str, *args: object) -> None:  # keep the runner's output clean
        pass


class TestServer(ThreadingHTTPServer):
    """Serves on 127.0.0.1 (random port) in a daemon thread; counts the requests it gets."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self.requests = 0
        self._thread = threading.Thread(target=self.serve_forever, name="conformance-http", daemon=True)

    def count(self) -> None:
        with self._lock:
            self.requests += 1

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self) -> TestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
