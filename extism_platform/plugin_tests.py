"""Run plugin.yaml's `tests:` on the platform's one Host — the plugin author's simulator.

A test runs exactly as the MCP server would run the plugin, with the same host functions, HTTP
enforcement and messages: the author's run grants what plugin.yaml requests (config values come
from the test's `config:`), and HTTP answers come from the test's `http_mock` through the host's
HTTP settings, after the permission check. So a mock for a host that plugin.yaml does not declare
fails the test, as the real call would be refused; a request no mock matches fails too, naming
the URL. Each test gets a fresh in-memory kv store; the module is read and checked once for all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from extism_platform.grants import PLUGIN_YAML_FIELD, Grant, Hints, host_allowed
from extism_platform.host.http import HttpSettings
from extism_platform.host.kv import KVStore
from extism_platform.host.runtime import Artifact, Host
from extism_platform.host.sources import from_project
from plugin_format.errors import PluginCallError
from plugin_format.manifest import PluginManifest


def project_hints(manifest: PluginManifest, *, config_hint: str) -> Hints:
    """Denial hints for an author's run: everything requested is granted, so what is missing is a
    config value (`config_hint` says where to give one) or a declaration in plugin.yaml."""

    def grant(plugin: str, capability: str, value: str) -> str:
        if capability == "config":
            return config_hint.format(key=value)
        return f"{manifest.path.name} requests {value}, but this run does not grant it"

    def undeclared(plugin: str, capability: str, value: str) -> str:
        return f"add {value} to permissions.{PLUGIN_YAML_FIELD[capability]} in {manifest.path.name}"

    return Hints(grant=grant, undeclared=undeclared)


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


def _input_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def _undeclared_mocks(manifest: PluginManifest, mocks: dict[str, Any]) -> list[str]:
    """Mock patterns whose host plugin.yaml does not declare: the real call would be refused."""
    out = []
    for pattern in mocks:
        parts = urlsplit(str(pattern))
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            port = None
        if not host or not host_allowed(manifest.permissions.hosts, host, port, parts.scheme or "https"):
            shown = f"{host}:{port}" if port else (host or repr(pattern))
            out.append(
                f"http_mock {pattern!r}: {manifest.path.name} does not declare {shown} in permissions.hosts, "
                "so the real call would be refused (declare the host, or drop the mock)"
            )
    return out


def run_tests(manifest: PluginManifest, wasm: bytes, linked: Iterable[Artifact] = ()) -> list[TestOutcome]:
    """Every test of plugin.yaml, in order, on one Host; its dependencies are linked from
    `linked` (verified builds, `extism-plugin test --with`)."""
    artifact = from_project(manifest, wasm, f"project:{manifest.project_dir}", linked)
    hints = project_hints(manifest, config_hint="give {key!r} a value in this test's `config:`")
    host = Host(hints=hints)
    outcomes = []
    for i, test in enumerate(manifest.tests):
        name = test.get("name") or f"tests[{i}] {test['export']}"
        mocks = test.get("http_mock") or {}
        start = time.perf_counter()
        problems = _undeclared_mocks(manifest, mocks)
        if problems:
            outcomes.append(TestOutcome(name, test["export"], False, "; ".join(problems), 0.0))
            continue
        config = {str(k): "" if v is None else str(v) for k, v in (test.get("config") or {}).items()}
        grant = Grant(requested=True, config=config)
        host.http = HttpSettings(mocks=HttpSettings.mocks_from_doc(mocks), mocks_only=True)
        host.kv.close()
        host.kv = KVStore(None)
        host.swap(host.plan([artifact], {manifest.name: grant}), {manifest.name: grant})
        output = error = None
        try:
            output = host.call(manifest.name, test["export"], _input_bytes(test.get("input"))).output
        except PluginCallError as exc:
            error = str(exc)
        ms = (time.perf_counter() - start) * 1000
        outcomes.append(TestOutcome(name, test["export"], *_judge(test, output, error), ms))
    host.close()
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
