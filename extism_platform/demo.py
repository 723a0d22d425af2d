"""The README's demo: build the example plugins, serve them over MCP, call them with a real client.

`python -m extism_platform.demo` builds `examples/*` (signed with a throwaway demo key) into
`build/demo/dist`, starts a loopback HTTP server standing in for api.weather.example, and serves
the plugins with extism-mcp-server over streamable HTTP until Ctrl-C. `--check` instead calls every
tool once through the Python MCP client (stdio) and exits 0 when all behaved as expected.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from plugin_format.errors import ExtismPlatformError, run_command
from plugin_format.signing import public_key_path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
DEMO_API_KEY = "demo-key-123"
CITIES = {
    "paris": {"city": "Paris", "temp_c": 21.5, "conditions": "sunny", "humidity": 40, "wind_kph": 12},
    "london": {"city": "London", "temp_c": 14.0, "conditions": "light rain", "humidity": 81, "wind_kph": 19},
    "tokyo": {"city": "Tokyo", "temp_c": 26.2, "conditions": "humid", "humidity": 72, "wind_kph": 8},
    "new york": {"city": "New York", "temp_c": 18.0, "conditions": "cloudy", "humidity": 55, "wind_kph": 15},
}


class WeatherAPI:
    """A loopback stand-in for api.weather.example: GET /v1/current?city=NAME with X-Api-Key."""

    def __init__(self, api_key: str = DEMO_API_KEY) -> None:
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                city = (parse_qs(parts.query).get("city") or [""])[0]
                api.requests.append({"path": parts.path, "city": city, "host": self.headers.get("Host")})
                if self.headers.get("X-Api-Key") != api.api_key:
                    self._send(401, {"error": "bad api key"})
                elif parts.path != "/v1/current":
                    self._send(404, {"error": "no such endpoint"})
                elif city.lower() not in CITIES:
                    self._send(404, {"error": f"unknown city {city}"})
                else:
                    self._send(200, CITIES[city.lower()])

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> WeatherAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def build_examples(dist: Path, key_path: Path, names: list[str] | None = None) -> list[Path]:
    """Build (and sign) the example plugins into `dist`; returns their .wasm paths."""
    from hatch_extism.build import build_artifacts  # noqa: PLC0415
    from plugin_format.manifest import load_manifest
    from plugin_format.signing import generate_keypair, load_private_key

    if not EXAMPLES_DIR.is_dir():
        raise ExtismPlatformError(f"{EXAMPLES_DIR}: not found (the demo runs from a source checkout)")
    if not key_path.exists():
        generate_keypair(key_path)
    key = load_private_key(key_path)
    out = []
    for project in sorted(p for p in EXAMPLES_DIR.iterdir() if (p / "plugin.yaml").is_file()):
        if names and project.name not in names:
            continue
        out.append(build_artifacts(load_manifest(project), dist, key=key).wasm)
    return out


def publish_local(dist: Path, key_path: Path, out: Path) -> str:
    """Publish the built examples to a fresh local registry under `out`; returns its file:// URL."""
    import shutil  # noqa: PLC0415

    from registry_static.repository import Repository  # noqa: PLC0415

    for d in (out / "registry", out / "registry-keys"):
        shutil.rmtree(d, ignore_errors=True)
    repo = Repository.init(out / "registry", out / "registry-keys", name="extism-platform demo")
    repo.add_scope("@examples", [(public_key_path(key_path).read_text(encoding="utf-8"), "demo")])
    repo.publish(sorted(dist.glob("*.wasm")))
    url = (out / "registry").resolve().as_uri()
    # A new registry with new keys at the same URL: forget the trust the last run's client kept
    # for it (TUF rightly refuses a root that the old one did not sign).
    from registry_static.client import RegistryClient  # noqa: PLC0415

    shutil.rmtree(RegistryClient(url).state_dir, ignore_errors=True)
    return url


def server_args(key_path: Path, api: WeatherAPI, audit: Path, registry: str) -> list[str]:
    return [
        "--registry",
        registry,
        "--plugin",
        "@examples/weather@^1",
        "--plugin",
        "@examples/probe@^0.1",
        "--trust-key",
        str(public_key_path(key_path)),
        "--grant",
        "@examples/weather:host=api.weather.example",
        "--grant",
        f"@examples/weather:config.api_key={api.api_key}",
        "--grant",
        "@examples/weather:host_function=log",
        "--grant",
        "@examples/probe:requested",
        "--grant",
        "@examples/probe:config.greeting=hello",
        "--resolve",
        f"api.weather.example={api.url}",
        "--audit-log",
        str(audit),
        "--state-dir",  # the demo's own kv store and audit key, beside its audit log
        str(audit.parent / "state"),
    ]


CHECKS: list[tuple[str, dict[str, Any], str]] = [
    # (tool, arguments, expectation: "ok" | "error:<substring>")
    ("examples_weather-get_weather", {"city": "Paris"}, "ok"),
    ("examples_weather-get_weather", {"city": "Atlantis"}, "error:unknown city"),
    ("examples_probe-echo", {"text": "hello"}, "ok"),
    ("examples_probe-config", {"key": "greeting"}, "ok"),
    ("examples_probe-config", {"key": "secret"}, "error:config 'secret' was not set"),
    ("examples_probe-fetch", {"url": "https://example.com/"}, "error:does not declare example.com"),
    ("examples_probe-fail", {"message": "as requested"}, "error:as requested"),
    ("examples_probe-crash", {}, "error:wasm trap"),
    ("extism_plugins", {}, "ok"),
]


async def check(args: list[str]) -> list[str]:
    """Call every demo tool through the real Python MCP client over stdio; returns failures."""
    from mcp import Client  # noqa: PLC0415
    from mcp.client.stdio import StdioServerParameters
    from mcp_types import TextContent

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "extism_platform.cli.mcp_server", *args], env={"PYTHONPATH": str(ROOT)}
    )
    failures = []
    async with Client(params) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        print(f"{len(listed)} tools: {', '.join(sorted(listed))}")
        for tool, arguments, expect in CHECKS:
            result = await client.call_tool(tool, arguments)
            first = result.content[0] if result.content else None
            text = first.text if isinstance(first, TextContent) else ""
            ok = (not result.is_error) if expect == "ok" else (result.is_error and expect[6:] in text)
            shown = (
                json.dumps(result.structured_content)
                if result.structured_content and tool != "extism_plugins"
                else text.replace("\n", " ")
            )
            print(
                f"{'ok  ' if ok else 'FAIL'} {tool} {json.dumps(arguments)} -> "
                f"{'ERROR ' if result.is_error else ''}{shown[:150]}"
            )
            if not ok:
                failures.append(f"{tool}: expected {expect}, got {text[:200]}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m extism_platform.demo",
        description="Build the example plugins and serve them as MCP tools (or --check them and exit).",
        epilog="examples:\n  python -m extism_platform.demo --check\n  python -m extism_platform.demo --port 8765",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="call every tool through a real MCP client, then exit")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port of the MCP server (default 8765)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "demo", help="where to build (default build/demo)")
    args = parser.parse_args(argv)
    return run_command("demo", lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    import anyio  # noqa: PLC0415

    started = time.perf_counter()
    dist, key = args.out / "dist", args.out / "demo-signing-key.pem"
    for wasm in build_examples(dist, key):
        print(f"built {wasm.name}")
    registry = publish_local(dist, key, args.out)
    print(f"built in {time.perf_counter() - started:.1f} s; serving from the local registry {registry}")
    with WeatherAPI() as api:
        sargs = server_args(key, api, args.out / "audit.jsonl", registry)
        if args.check:
            failures = anyio.run(check, sargs)
            from extism_platform.audit import load_key, verify_log  # noqa: PLC0415

            report = verify_log(args.out / "audit.jsonl", load_key(args.out / "state" / "audit.key"))
            print(
                f"audit log {args.out / 'audit.jsonl'}: {report.lines} lines, "
                f"chain {'intact' if report.ok else 'BROKEN: ' + '; '.join(report.problems)}"
            )
            for f in failures:
                print(f"demo: FAILED {f}", file=sys.stderr)
            return 1 if failures or not report.ok else 0
        from extism_platform.cli import mcp_server  # noqa: PLC0415

        print(f"MCP endpoint: http://127.0.0.1:{args.port}/mcp  (Ctrl-C to stop)")
        return mcp_server.main([*sargs, "--http", f"127.0.0.1:{args.port}"])


if __name__ == "__main__":
    sys.exit(main())
