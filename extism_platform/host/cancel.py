"""Stopping a plugin call from outside: MCP's `notifications/cancelled` → Extism's cancel handle.

A `CallCancel` is handed to `Host.call`, which attaches the instance it borrowed; `cancel()` (from
any thread) stops the wasm at its next instruction check (wasmtime epoch interruption), so the worker
thread returns, its concurrency slot is free, the instance is discarded and the audit log records
`cancelled`. A cancel that arrives before the instance is attached stops the call before it runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
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


_local = threading.local()


def after_reply(fn: Callable[[], None]) -> bool:
    """On a `CallThreads` thread: run `fn` there once the call's result has been handed back (the
    host's instance recycling, which no client should wait for), and return True; elsewhere False."""
    pending = getattr(_local, "after", None)
    if pending is None:
        return False
    pending.append(fn)
    return True


class _Job:
    __slots__ = ("fn", "lock", "done", "finished", "result", "error", "future", "loop")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.lock = threading.Lock()
        self.done = threading.Lock()  # held until the job finished; released for a waiting loop thread
        self.done.acquire()
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.future: Any = None  # an asyncio future, once the loop stopped waiting synchronously
        self.loop: Any = None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def _deliver(future: Any, job: _Job) -> None:
    if not future.done():
        if job.error is not None:
            future.set_exception(job.error)
        else:
            future.set_result(job.result)


class _Worker:
    def __init__(self, pool: CallThreads) -> None:
        self.pool = pool
        self.go = threading.Lock()
        self.go.acquire()
        self.job: _Job | None = None
        threading.Thread(target=self._run, name="extism-call", daemon=True).start()

    def _run(self) -> None:
        after: list[Callable[[], None]] = []
        _local.after = after
        while True:
            self.go.acquire()
            job, self.job = self.job, None
            assert job is not None
            try:
                job.result = job.fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                job.error = exc
            with job.lock:
                job.finished = True
                future = job.future
            if future is None:
                job.done.release()
            else:
                job.loop.call_soon_threadsafe(_deliver, future, job)
            del job, future
            for fn in after:
                try:
                    fn()
                except Exception:  # noqa: BLE001 - housekeeping must not kill the thread
                    logging.getLogger("extism_platform.host").exception("after a call")
            after.clear()
            self.pool._idle(self)


class CallThreads:
    """The threads plugin calls run on, with a cheap handoff.

    A call is handed to an idle thread (one lock release), and the event loop may wait for it
    synchronously for a short while (`sync_wait_s`) with the GIL released: a call that ends within
    it costs two thread wake-ups and no trip through the event loop (an executor future, the
    loop's self-pipe, a callback, and the GIL contested by both threads while the loop winds down
    — measured ~0.1–0.5 ms a call on a loaded 2-core machine). Past that, or when the caller asks
    for no wait, the loop awaits an asyncio future as usual, free to serve other requests and
    `notifications/cancelled`. Threads are made on demand up to `size` and kept."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._free: list[_Worker] = []
        self._made = 0

    def _idle(self, worker: _Worker) -> None:
        with self._lock:
            self._free.append(worker)

    def _take(self) -> _Worker:
        with self._lock:
            if self._free:
                return self._free.pop()
            self._made += 1
        return _Worker(self)

    def start(self, fn: Callable[[], Any]) -> _Job:
        job = _Job(fn)
        worker = self._take()
        worker.job = job
        worker.go.release()
        return job


async def run_cancellable(
    fn: Any, cancel: CallCancel, *, limiter: Any, threads: CallThreads, sync_wait_s: float = 0.0
) -> Any:
    """`fn()` on one of `threads` under `limiter` (an async context manager, e.g.
    `asyncio.Semaphore`, whose size is at most the threads'). With `sync_wait_s`, the event loop
    first waits that long for it synchronously (see `CallThreads`): the caller passes it only when
    nothing else is waiting on the loop's attention (no other call in flight), as a cancel cannot
    be read meanwhile. When the awaiting task is cancelled (the client's `notifications/cancelled`),
    the plugin is stopped through `cancel`; the slot is given back when the thread has really
    returned (within a millisecond of the cancel), never while wasm still runs.

    Plain asyncio rather than an anyio task group and `to_thread`: the servers run on asyncio, and
    this is the hot path of every call (the task group, its cancel scope and anyio's thread hop
    cost ~0.2 ms a call, measured with pyinstrument)."""
    import asyncio  # noqa: PLC0415

    async with limiter:
        job = threads.start(fn)
        if sync_wait_s > 0 and job.done.acquire(timeout=sync_wait_s):
            return job.outcome()
        loop = asyncio.get_running_loop()
        with job.lock:
            if job.finished:
                return job.outcome()
            job.loop, job.future = loop, loop.create_future()
        future = job.future
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.cancel()
            import anyio  # noqa: PLC0415

            with anyio.CancelScope(shield=True):  # wait for the thread; the cancellation stands
                await asyncio.wait([future])
            raise
