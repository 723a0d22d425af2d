"""The stdio transport's file ends on asyncio pipes instead of a thread per read and write.

The SDK's `stdio_server()` reads and writes stdin/stdout through `anyio.wrap_file`: each line read
and each write + flush is a hop to a worker thread and back, ~0.15 ms apiece, more than half of a
`tools/call` round trip (measured with pyinstrument; `nox -s bench`). Here the same two file ends
are asyncio pipe transports on private copies of fd 0 and 1, handed to the SDK's `stdio_server`
(which then does the framing and JSON exactly as before). As the SDK does for its own, fd 0 is
pointed at /dev/null and fd 1 at stderr while serving, so stray output (a plugin's, a library's)
never lands on the wire; both are restored on exit. When stdin or stdout is not a pipe, socket or
terminal (a regular file), asyncio cannot watch it and the SDK's own thread-backed ends are used.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator
from typing import Any

MAX_LINE = 64 << 20  # one JSON-RPC message per line; the SDK's body limit is far below this


def _watchable(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class _Lines:
    """What `stdio_server` iterates for stdin: decoded lines."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        line = await self.reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


class _Writer:
    """What `stdio_server` writes stdout through: write buffers, flush waits for the pipe."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def write(self, text: str) -> None:
        self.writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self.writer.drain()


@contextlib.asynccontextmanager
async def stdio_streams() -> AsyncIterator[tuple[Any, Any]]:
    """(read_stream, write_stream) for `Server.run`, as the SDK's `stdio_server()` yields."""
    from mcp.server.stdio import stdio_server  # noqa: PLC0415

    if not (_watchable(0) and _watchable(1)):
        async with stdio_server() as streams:
            yield streams
        return
    loop = asyncio.get_running_loop()
    saved = (os.dup(0), os.dup(1))  # put back on exit
    in_fd, out_fd = os.dup(0), os.dup(1)  # the transports' own (they close them)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # stray prints go to stderr, not to the client
    transports: list[Any] = []
    try:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(in_fd, "rb", buffering=0)
        )
        transports.append(read_transport)
        write_transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(out_fd, "wb", buffering=0)
        )
        transports.append(write_transport)
        writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
        async with stdio_server(stdin=_Lines(reader), stdout=_Writer(writer)) as streams:  # type: ignore[arg-type]
            yield streams
            with contextlib.suppress(OSError, ConnectionError):
                await writer.drain()
    finally:
        for t in transports:
            t.close()
        for fd, target in zip(saved, (0, 1), strict=True):
            with contextlib.suppress(OSError):
                os.set_blocking(fd, True)  # the pipe transports made the shared file description non-blocking
            os.dup2(fd, target)
            os.close(fd)
