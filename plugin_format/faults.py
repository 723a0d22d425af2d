"""Fault injection for the crash tests: the one hook, read only when its environment variable is set.

`EXTISM_PLATFORM_CRASH_AT=N` makes the process kill itself with SIGKILL at the N-th `atomic_write`
(counted from 1, when the new file is complete on disk but not yet renamed into place): what a power cut
or `kill -9` at that write point leaves behind. The tests walk N = 1, 2, … over `publish`, `install`
and lock writing until the command finishes, and check that the next command repairs or uses what is
left. `EXTISM_PLATFORM_CRASH_AT=NAME` kills it at the named point instead (`point(NAME)`), where a
step that is no file write ends: `hooks-ran` (lifecycle hooks ran, their kv writes not yet committed)
and `hooks-committed` (committed, extism.lock not yet written), in `extism_platform.hooks`. Unset
(always, outside those tests) each hook is a dictionary lookup.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "EXTISM_PLATFORM_CRASH_AT"
#: the named points (`point`), for the tests and this docstring to agree on
POINTS = ("hooks-ran", "hooks-committed")
_writes = 0  # atomic writes seen while CRASH_ENV is set


def write_point() -> None:
    """Called by `atomic_write` just before its rename; kills the process at the chosen write."""
    global _writes
    at = os.environ.get(CRASH_ENV)
    if not at or not at.isdigit():
        return
    _writes += 1
    if _writes == int(at):
        os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    """A named crash point (one of `POINTS`): kills the process when CRASH_ENV names it."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
