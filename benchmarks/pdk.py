"""PDK overhead: each language's conformance plugin against a raw, PDK-less echo (same run).

Measures, per language: module size, compile (CompiledPlugin from bytes, disk cache off),
instantiate (Plugin from a CompiledPlugin), and the median latency of `echo` for 16 B and 1 MiB
inputs. Ratios are against the raw WAT echo measured in the same process.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ["EXTISM_CACHE_CONFIG"] = ""  # measure real compiles, not wasmtime's disk cache

import wasmtime  # noqa: E402

from conformance.runner import REVERSE_BYTES  # noqa: E402
from plugin_format.extism_sdk import CompiledPlugin, extism
from plugin_format.files import atomic_write_text

BUILD = Path("build")
OUT = BUILD / "bench" / "pdk.json"


def _median_us(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(samples)


def measure(name: str, wasm: bytes, wasi: bool) -> dict[str, float]:
    t0 = time.perf_counter()
    compiled = CompiledPlugin({"wasm": [{"data": wasm}]}, wasi=wasi, functions=[REVERSE_BYTES])
    compile_ms = (time.perf_counter() - t0) * 1000
    instantiate_us = _median_us(lambda: extism.Plugin(compiled), 50)
    plugin = extism.Plugin(compiled)
    small, big = b"x" * 16, os.urandom(1 << 20)
    for _ in range(50):
        plugin.call("echo", small)
    return {
        "size": len(wasm),
        "compile_ms": compile_ms,
        "instantiate_us": instantiate_us,
        "echo_16b_us": _median_us(lambda: plugin.call("echo", small), 2000),
        "echo_1mib_us": _median_us(lambda: plugin.call("echo", big), 50),
    }


def main() -> int:
    from plugin_format.wasm import inspect_module

    results: dict[str, dict[str, float]] = {}
    raw = bytes(wasmtime.wat2wasm((Path(__file__).parent / "raw_echo.wat").read_text()))
    results["raw (no PDK)"] = measure("raw", raw, False)
    for wasm_path in sorted((BUILD / "conformance").glob("*/conformance.wasm")):
        data = wasm_path.read_bytes()
        results[wasm_path.parent.name] = measure(wasm_path.parent.name, data, inspect_module(data).wasi)
    if len(results) == 1:
        print("no conformance plugins under build/conformance: run `nox -s build-all` first", file=sys.stderr)
        return 1
    base = results["raw (no PDK)"]
    header = (
        f"{'plugin':<14}{'size':>12}{'compile':>11}{'instantiate':>13}{'echo 16 B':>12}{'ratio':>7}"
        f"{'echo 1 MiB':>13}{'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        r["echo_16b_ratio"] = r["echo_16b_us"] / base["echo_16b_us"]
        r["echo_1mib_ratio"] = r["echo_1mib_us"] / base["echo_1mib_us"]
        print(
            f"{name:<14}{r['size']:>12,}{r['compile_ms']:>9.1f}ms{r['instantiate_us']:>11.1f}µs"
            f"{r['echo_16b_us']:>10.1f}µs{r['echo_16b_ratio']:>6.2f}x{r['echo_1mib_us']:>11.0f}µs"
            f"{r['echo_1mib_ratio']:>6.2f}x"
        )
    atomic_write_text(OUT, json.dumps({"baseline": "raw (no PDK)", "results": results}, indent=2))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
