"""Run the spec against one wasm module with the real Extism runtime."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.server import TestServer
from conformance.spec import Case, Spec, Step, fill_deep, generate
from plugin_format.extism_sdk import CompiledPlugin, extism
from plugin_format.wasm import inspect_module


class RunnerError(Exception):
    """The module cannot be run at all (missing file, not wasm, missing exports)."""


@dataclass
class CaseResult:
    id: str
    status: str  # "pass" | "fail" | "skip"
    detail: str
    ms: float

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "ms": round(self.ms, 3)}


# ---- the host side the spec needs ------------------------------------------------------------


def _reverse_bytes(current: extism.CurrentPlugin, inputs: list, outputs: list, *_: Any) -> None:
    data = current.input_bytes(inputs[0]) if inputs[0].value else b""
    if data:
        current.return_bytes(outputs[0], data[::-1])
    else:
        outputs[0].value = 0


REVERSE_BYTES = extism.host_fn(
    name="reverse_bytes",
    namespace="extism:host/user",
    signature=([extism.ValType.I64], [extism.ValType.I64]),
)(_reverse_bytes)

_LOG_LINE = re.compile(r"^\S+\s+(TRACE|DEBUG|INFO|WARN|ERROR) extism::pdk: (.*) plugin=\"([0-9a-f-]+)\"\s*$", re.S)


class LogCapture:
    """Extism's log sink is process-global and can be set once: capture at debug level, then
    hand each step the guest log lines of its own plugin instance."""

    _instance: LogCapture | None = None

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._logger = extism.set_log_custom(self.lines.append, "debug")

    @classmethod
    def get(cls) -> LogCapture:
        if cls._instance is None:
            cls._instance = LogCapture()
        return cls._instance

    def take(self, plugin_id: str) -> list[list[str]]:
        self._logger.drain()
        found = []
        for line in self.lines:
            m = _LOG_LINE.match(line)
            if m and m.group(3) == plugin_id:
                found.append([m.group(1), m.group(2)])
        self.lines.clear()
        return found


# ---- judging one step --------------------------------------------------------------------------


def _show(data: bytes, limit: int = 60) -> str:
    if len(data) > limit:
        return f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:12]}…"
    try:
        return repr(data.decode())
    except UnicodeDecodeError:
        return f"hex {data.hex()}"


class StepError(Exception):
    pass


def _judge(
    step: Step,
    placeholders: dict[str, str],
    output: bytes | None,
    error: str | None,
    elapsed_ms: float,
    requests: int,
    logs: list[list[str]],
) -> None:
    exp = step.expect
    wants_error = any(k in exp for k in ("error", "error_startswith", "error_contains", "error_any"))
    if wants_error:
        if error is None:
            raise StepError(f"{step.call}: expected an error, got output {_show(output or b'')}")
        if "error" in exp and error != fill_deep(exp["error"], placeholders):
            raise StepError(f"{step.call}: error {error!r} != expected {exp['error']!r}")
        if "error_startswith" in exp and not error.startswith(exp["error_startswith"]):
            raise StepError(f"{step.call}: error {error!r} does not start with {exp['error_startswith']!r}")
        if "error_contains" in exp and exp["error_contains"] not in error:
            raise StepError(f"{step.call}: error {error!r} does not contain {exp['error_contains']!r}")
    else:
        if error is not None:
            raise StepError(f"{step.call}: unexpected error: {error}")
        assert output is not None
        if "output" in exp:
            want = fill_deep(exp["output"], placeholders).encode()
            if output != want:
                raise StepError(f"{step.call}: output {_show(output)} != expected {_show(want)}")
        if "output_hex" in exp and output != bytes.fromhex(exp["output_hex"]):
            raise StepError(f"{step.call}: output {_show(output)} != expected hex {exp['output_hex']}")
        if "output_gen" in exp:
            want = generate(exp["output_gen"])
            if output != want:
                raise StepError(f"{step.call}: output {_show(output)} != expected {_show(want)}")
        if "output_json" in exp:
            try:
                got = json.loads(output)
            except ValueError:
                raise StepError(f"{step.call}: output {_show(output)} is not JSON") from None
            if got != exp["output_json"]:
                raise StepError(f"{step.call}: output JSON {got!r} != expected {exp['output_json']!r}")
    if "http_requests" in exp and requests != exp["http_requests"]:
        raise StepError(f"{step.call}: the HTTP server got {requests} request(s), expected {exp['http_requests']}")
    if "max_ms" in exp and elapsed_ms > exp["max_ms"]:
        raise StepError(f"{step.call}: took {elapsed_ms:.0f} ms, limit {exp['max_ms']} ms")
    if "logs" in exp:
        for level, message in exp["logs"]:
            if [level, message] not in logs:
                seen = "; ".join(f"{lv} {msg!r}" for lv, msg in logs) or "none"
                raise StepError(f"{step.call}: log {level} {message!r} not received (got: {seen})")


# ---- running -----------------------------------------------------------------------------------


class Runner:
    """Runs a spec against one module. Compiled modules are cached per manifest."""

    def __init__(
        self,
        wasm_path: Path,
        spec: Spec,
        *,
        wasi: bool | None = None,
        language: str | None = None,
        allow_missing: bool = False,
        cases: list[Case] | None = None,
    ) -> None:
        if not wasm_path.exists():
            raise RunnerError(f"{wasm_path}: no such file")
        if not wasm_path.is_file():
            raise RunnerError(f"{wasm_path}: not a file")
        self.wasm = wasm_path.read_bytes()
        try:
            info = inspect_module(self.wasm)
        except ValueError as exc:
            raise RunnerError(f"{wasm_path}: {exc}") from None
        self.wasi = info.wasi if wasi is None else wasi
        self.spec = spec
        self.cases = spec.cases if cases is None else cases
        self.language = language
        self.missing: set[str] = set()
        bad_sig: list[str] = []
        needed = set().union(*(c.exports for c in self.cases if not (language and language in c.skip)))
        for name in sorted(needed):
            sig = info.func_exports.get(name)
            if sig is None:
                self.missing.add(name)
            elif sig != ([], ["i32"]):
                bad_sig.append(f"{name}{tuple(sig[0])} -> {sig[1]}")
        if bad_sig:
            raise RunnerError(f"{wasm_path}: exports without the Extism signature () -> i32: {', '.join(bad_sig)}")
        if self.missing and not allow_missing:
            raise RunnerError(
                f"{wasm_path}: missing export(s) {', '.join(sorted(self.missing))} "
                "(see conformance/CONTRACT.md; --allow-missing runs the other cases)"
            )
        self.sha256 = hashlib.sha256(self.wasm).hexdigest()
        self._compiled: dict[str, CompiledPlugin] = {}
        self.logs = LogCapture.get()

    def _manifest(self, case: Case, placeholders: dict[str, str]) -> dict[str, Any]:
        settings = {**self.spec.defaults, **fill_deep(case.manifest, placeholders)}
        manifest: dict[str, Any] = {"wasm": [{"data": self.wasm}], "timeout_ms": settings["timeout_ms"]}
        if "config" in settings:
            manifest["config"] = settings["config"]
        if "allowed_hosts" in settings:
            manifest["allowed_hosts"] = settings["allowed_hosts"]
        if "memory_max_pages" in settings:
            manifest["memory"] = {"max_pages": settings["memory_max_pages"]}
        return manifest

    def _instance(self, manifest: dict[str, Any]) -> extism.Plugin:
        key = json.dumps({k: v for k, v in manifest.items() if k != "wasm"}, sort_keys=True)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = CompiledPlugin(manifest, wasi=self.wasi, functions=[REVERSE_BYTES])
            self._compiled[key] = compiled
        return extism.Plugin(compiled)

    def run_case(self, case: Case, server: TestServer) -> CaseResult:
        if self.language and self.language in case.skip:
            return CaseResult(case.id, "skip", case.skip[self.language], 0.0)
        missing = case.exports & self.missing
        if missing:
            return CaseResult(case.id, "fail", f"module lacks export(s) {', '.join(sorted(missing))}", 0.0)
        placeholders = {"http": f"http://127.0.0.1:{server.port}", "http_denied": f"http://localhost:{server.port}"}
        start = time.perf_counter()
        try:
            manifest = self._manifest(case, placeholders)
            try:
                plugin = self._instance(manifest)
            except extism.Error as exc:
                raise StepError(f"the plugin could not be instantiated: {exc}") from None
            for step in case.steps:
                if step.new_instance:
                    plugin = self._instance(manifest)
                data = step.input_bytes(placeholders)
                for _ in range(step.repeat):
                    before = server.requests
                    output = error = None
                    t0 = time.perf_counter()
                    try:
                        output = plugin.call(step.call, data)
                    except extism.Error as exc:
                        error = str(exc)
                    elapsed = (time.perf_counter() - t0) * 1000
                    logs = self.logs.take(str(plugin.id))
                    _judge(step, placeholders, output, error, elapsed, server.requests - before, logs)
        except StepError as exc:
            return CaseResult(case.id, "fail", str(exc), (time.perf_counter() - start) * 1000)
        return CaseResult(case.id, "pass", "", (time.perf_counter() - start) * 1000)

    def run(
        self, cases: Iterable[Case] | None = None, on_result: Callable[[CaseResult], None] | None = None
    ) -> list[CaseResult]:
        results = []
        with TestServer() as server:
            for case in cases if cases is not None else self.cases:
                result = self.run_case(case, server)
                results.append(result)
                if on_result:
                    on_result(result)
        return results


def summary(results: list[CaseResult]) -> str:
    count = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "skip")}
    return f"{count['pass']} passed, {count['fail']} failed, {count['skip']} skipped"
