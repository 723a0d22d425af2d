"""Run plugin.yaml's `tests:` in the real Extism host — the plugin author's simulator.

HTTP is served by the test, not the network: the host function `extism:host/env::http_request`
is shadowed by one that answers from the test's `http_mock` (URL patterns → canned responses) and
refuses anything unmatched, naming the URL. Config comes from the test; nothing else is granted.
"""

from __future__ import annotations

import fnmatch
import json
import time
from dataclasses import dataclass
from typing import Any

from plugin_format.extism_sdk import extism
from plugin_format.manifest import PluginManifest

I64 = extism.ValType.I64
I32 = extism.ValType.I32


@dataclass
class TestOutcome:
    name: str
    export: str
    passed: bool
    detail: str
    ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "export": self.export,
            "passed": self.passed,
            "detail": self.detail,
            "ms": round(self.ms, 3),
        }


class _MockHttp:
    """State of the shadowed http_request / http_status_code pair for one call."""

    def __init__(self, mocks: dict[str, dict[str, Any]]) -> None:
        self.mocks = mocks
        self.status = 0
        self.requests: list[dict[str, Any]] = []
        self.refusal: str | None = None
        self.cancel: Any = None  # the plugin's cancel handle, set before the call

    def request(self, current: extism.CurrentPlugin, inputs: list, outputs: list, *_: Any) -> None:
        req = json.loads(current.input_bytes(inputs[0]))
        self.requests.append(req)
        url = req.get("url", "")
        for pattern, response in self.mocks.items():
            if fnmatch.fnmatchcase(url, pattern):
                self.status = int(response.get("status", 200))
                body = (
                    response["body"].encode()
                    if "body" in response
                    else (json.dumps(response["json"]).encode() if "json" in response else b"")
                )
                if body:
                    current.return_bytes(outputs[0], body)
                else:
                    outputs[0].value = 0
                return
        # A host function cannot fail the call with a message in this SDK: remember why, cancel
        # the call (it stops at once with "timeout"), and report the reason instead.
        self.refusal = f"HTTP request to {url} has no http_mock in this test (add a pattern that matches it)"
        outputs[0].value = 0
        if self.cancel is not None:
            self.cancel.cancel()

    def status_code(self, current: extism.CurrentPlugin, inputs: list, outputs: list, *_: Any) -> None:
        outputs[0].value = self.status


def _functions(mock: _MockHttp) -> list:
    return [
        extism.host_fn(name="http_request", namespace="extism:host/env", signature=([I64, I64], [I64]))(mock.request),
        extism.host_fn(name="http_status_code", namespace="extism:host/env", signature=([], [I32]))(mock.status_code),
    ]


def _input_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def run_tests(manifest: PluginManifest, wasm: bytes) -> list[TestOutcome]:
    outcomes = []
    for i, test in enumerate(manifest.tests):
        name = test.get("name") or f"tests[{i}] {test['export']}"
        mock = _MockHttp(test.get("http_mock") or {})
        plugin_manifest = {
            "wasm": [{"data": wasm}],
            "config": test.get("config") or {},
            "timeout_ms": manifest.permissions.timeout_ms,
            "memory": {"max_pages": manifest.permissions.memory_mib * 16},
        }
        start = time.perf_counter()
        output = error = None
        try:
            plugin = extism.Plugin(plugin_manifest, wasi=manifest.wasi, functions=_functions(mock))
            mock.cancel = plugin.cancel_handle()
            output = plugin.call(test["export"], _input_bytes(test.get("input")))
        except extism.Error as exc:
            error = str(exc)
        if mock.refusal:
            output, error = None, mock.refusal
        ms = (time.perf_counter() - start) * 1000
        outcomes.append(TestOutcome(name, test["export"], *_judge(test, output, error), ms))
    return outcomes


def _judge(test: dict[str, Any], output: bytes | None, error: str | None) -> tuple[bool, str]:
    if "expect_error" in test:
        if error is None:
            return False, f"expected an error containing {test['expect_error']!r}, got output {output!r}"
        if test["expect_error"] not in error:
            return False, f"error {error!r} does not contain {test['expect_error']!r}"
        return True, ""
    if error is not None:
        return False, f"unexpected error: {error}"
    assert output is not None
    if "expect_output" in test and output.decode(errors="replace") != test["expect_output"]:
        return False, f"output {output.decode(errors='replace')!r} != {test['expect_output']!r}"
    if "expect_json" in test:
        try:
            got = json.loads(output)
        except ValueError:
            return False, f"output is not JSON: {output[:200]!r}"
        if got != test["expect_json"]:
            return False, f"output JSON {got!r} != {test['expect_json']!r}"
    return True, ""
