"""Stopping a plugin call from outside: MCP's `notifications/cancelled` → Extism's cancel handle.

A `CallCancel` is handed to `Host.call`, which attaches the instance it borrowed; `cancel()` (from
any thread) stops the wasm at its next instruction check (wasmtime epoch interruption), so the worker
thread returns, its concurrency slot is free, the instance is discarded and the audit log records
`cancelled`. A cancel that arrives before the instance is attached stops the call before it runs.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class CallCancel:
    """One call's cancel switch; `cancel()` is safe from any thread, any number of times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handle: Any = None
        self.cancelled = False
        #: `time.perf_counter()` of the first `cancel()` (the audit log records how long stopping took)
        self.cancelled_at: float | None = None

    def attach(self, instance: Any) -> bool:
        """Called by the host with the instance about to run; False when already cancelled."""
        with self._lock:
            if self.cancelled:
                return False
            self._handle = instance.cancel_handle()
            return True

    def detach(self) -> None:
        with self._lock:
            self._handle = None

    def cancel(self) -> None:
        with self._lock:
            if not self.cancelled:
                self.cancelled, self.cancelled_at = True, time.perf_counter()
            handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()


async def run_cancellable(fn: Any, cancel: CallCancel, *, limiter: Any, executor: Any = None) -> Any:
    """`fn()` on a worker thread (`executor`, a `concurrent.futures` pool; default asyncio's) under
    `limiter` (an async context manager, e.g. `asyncio.Semaphore`). When the awaiting task is
    cancelled (the client's `notifications/cancelled`), the plugin is stopped through `cancel`; the
    slot is given back when the thread has really returned (within a millisecond of the cancel), never
    while wasm still runs.

    Plain asyncio (a future from `run_in_executor`, shielded) rather than an anyio task group and
    `to_thread`: the servers run on asyncio, and this is the hot path of every call (the task group,
    its cancel scope and anyio's thread hop cost ~0.2 ms a call, measured with pyinstrument)."""
    import asyncio  # noqa: PLC0415

    async with limiter:
        future = asyncio.get_running_loop().run_in_executor(executor, fn)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.cancel()
            import anyio  # noqa: PLC0415

            with anyio.CancelScope(shield=True):  # wait for the thread; the cancellation stands
                await asyncio.wait([future])
            raise
