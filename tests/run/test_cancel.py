"""`notifications/cancelled` stops the plugin call (Extism's cancel handle): with `--max-concurrency 1`
the next call gets the slot at once, and the audit log records `cancelled`. Real `mcp` client over
stdio, both protocol eras; the client sends the cancel itself when the calling task is cancelled."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from extism_platform.audit import load_key, read_records, verify_log
from tests.conftest import ROOT
from tests.run.test_mcp import SERVER

SLOT_FREE_S = 0.05  # the bound: a cancelled call's slot is free within 50 ms


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_cancelled_call_frees_its_slot(built: dict, tmp_path: Path, mode: str) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    audit = tmp_path / "audit.jsonl"
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            *SERVER,
            "--dist",
            str(built["dist"]),
            "--trust-key",
            str(built["pub"]),
            "--grant",
            "@examples/probe:timeout_ms=20000",  # the spin would hold the slot for 20 s without the cancel
            "--max-concurrency",
            "1",
            "--warm",
            "--audit-log",
            str(audit),
            "--state-dir",
            str(tmp_path),
        ],
        env={"PYTHONPATH": str(ROOT)},
        cwd=str(tmp_path),
    )

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with anyio.fail_after(60):
            async with Client(params, mode=mode) as client:
                await client.call_tool("examples_probe-echo", {"text": "warm"})
                async with anyio.create_task_group() as tg:
                    spin_scope = anyio.CancelScope()

                    async def spin() -> None:
                        with spin_scope:
                            out["spin"] = await client.call_tool("examples_probe-spin", {})

                    tg.start_soon(spin)
                    await _wait_for_running(audit, client)
                    cancelled_at = time.perf_counter()
                    spin_scope.cancel()  # the client sends notifications/cancelled for the request
                    out["echo"] = await client.call_tool("examples_probe-echo", {"text": "next"})
                    out["slot_wait_s"] = time.perf_counter() - cancelled_at
                out["after"] = await client.call_tool("examples_probe-echo", {"text": "after"})
        return out

    out = anyio.run(main)
    print(f"cancel → next call answered: {out['slot_wait_s'] * 1000:.1f} ms ({mode})")
    assert "spin" not in out  # the caller gave up on it
    assert out["echo"].structured_content == {"text": "next"}
    # end to end (client cancel → stdio → server → next call answered): far below the spin's 20 s timeout
    assert out["slot_wait_s"] < 2.0, out["slot_wait_s"]
    assert out["after"].structured_content == {"text": "after"}
    calls = [r for r in read_records(audit) if r["kind"] == "call"]
    (spin,) = [c for c in calls if c["export"] == "spin"]
    assert spin["outcome"] == "cancelled" and "cancelled by the client" in spin["error"]
    assert spin["duration_ms"] < 5000
    # the server's part: from the cancel reaching the host to the wasm stopped and the slot free
    print(f"server: cancel → stopped {spin['stopped_after_ms']} ms")
    assert spin["stopped_after_ms"] < SLOT_FREE_S * 1000
    assert verify_log(audit, load_key(tmp_path / "audit.key")).ok


async def _wait_for_running(audit: Path, client: Any) -> None:
    """The spin is running once the server took the slot: a bounded pause (the audit log records the
    call only when it ends, so there is nothing to poll; 0.3 s is far past dispatch on this host)."""
    await anyio.sleep(0.3)
