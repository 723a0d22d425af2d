"""`extism-plugin` — the plugin author's command line: init, build, test, call, inspect, verify, keygen;
the package manager's commands (install, add, remove, update, …) are in `packages.py`."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hatch_extism.toolchains import DRIVERS, get_toolchain
from plugin_format import names, signing
from plugin_format.cli import add_version_flag
from plugin_format.errors import ExtismPlatformError, PluginCallError, run_command
from plugin_format.paths import default_signing_key

EXAMPLES = {
    "main": """examples:
  extism-plugin init weather-tool --lang rust      # a new project from a template
  cd weather-tool && extism-plugin build           # compile, check, sign → dist/
  extism-plugin test                               # run plugin.yaml's tests in the real host
  extism-plugin call dist/weather-tool-0.1.0.wasm greet --input '{"name": "Zoë"}'
  extism-plugin verify dist/weather-tool-0.1.0.wasm --key ~/.config/extism-platform/signing.key.pub
""",
    "import": """examples:
  extism-plugin import count_vowels.wasm --name count-vowels      # → ./count-vowels/ + signed dist/
  extism-plugin import plugin.wasm --name @acme/tool --version 1.0.0 --exports-from their/plugin.yaml --out tool
  extism-plugin import plugin.wasm --name tool --unsigned --json
""",
    "toolchains": """examples:
  extism-plugin toolchains                 # which compilers are here, and how to get the others
  extism-plugin toolchains --install c zig # install what those languages need (from package registries)
  extism-plugin toolchains --json
""",
    "init": """examples:
  extism-plugin init weather-tool --lang rust
  extism-plugin init --name=@acme/weather --lang=go --dir plugins/weather
""",
    "build": """examples:
  extism-plugin build                       # the project in the current directory → dist/
  extism-plugin build path/to/project --key ~/.config/extism-platform/signing.key
  EXTISM_SIGNING_KEY="$(cat key.pem)" extism-plugin build --json
  extism-plugin build --unsigned            # explicitly unsigned (marked so in the .sig)
""",
    "test": """examples:
  extism-plugin test                 # builds (unsigned, into build/) then runs plugin.yaml's tests
  extism-plugin test --wasm dist/weather-tool-0.1.0.wasm --json
  extism-plugin test --with ../units/dist          # link plugin.yaml's dependencies from their builds
""",
    "call": """examples:
  extism-plugin call plugin.wasm greet --input '{"name": "Zoë"}'
  extism-plugin call . get_weather --input @request.json --config api_key=XYZ --allow-host api.weather.example
  extism-plugin call plugin.wasm run --wasi --timeout-ms 2000 --memory-mib 32
  extism-plugin call . to_fahrenheit --input '{"celsius": 21}' --with ../units/dist/demo-units-0.1.0.wasm
  extism-plugin call plugin.wasm fetch --allow-host 127.0.0.1:8080 --enable-http-response-headers
""",
    "inspect": """examples:
  extism-plugin inspect dist/weather-tool-0.1.0.wasm
  extism-plugin inspect some-module.wasm --json
""",
    "verify": """examples:
  extism-plugin verify dist/weather-tool-0.1.0.wasm --key signing.key.pub
  extism-plugin verify dist/weather-tool-0.1.0.plugin.json --json
""",
    "publish": """examples:
  extism-registry init ./registry                  # once: a registry directory (+ ./registry.keys)
  extism-registry keys add-scope ./registry @acme --author ~/.config/extism-platform/signing.key.pub
  extism-registry keys add-author ./registry _ ~/.config/extism-platform/signing.key.pub   # unscoped names
  extism-plugin build && extism-plugin publish --registry ./registry --site
  extism-plugin publish --registry git+ssh://git@git.example/acme/plugins.git --keys ~/secure/registry.keys
  extism-plugin publish --registry oci://registry.example:5000/plugins   # tag = version, signed artifact
  extism-plugin publish      # the default registry: pyproject.toml, else ~/.config/extism-platform/config.yaml
""",
    "docs": """examples:
  extism-plugin docs                               # build/docs/index.html from plugin.yaml + README.md
  extism-plugin docs path/to/project --out site/ --registry https://plugins.example.com
  extism-plugin docs --json                        # tools, schemas, examples, permissions for scripts
""",
    "keygen": """examples:
  extism-plugin keygen                                   # ~/.config/extism-platform/signing.key (+ .pub)
  extism-plugin keygen --out ci.key --passphrase-env KEY_PASSPHRASE
""",
}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _emit(args: argparse.Namespace, doc: Any, text: str) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False) if args.json else text)


# ---- toolchains -----------------------------------------------------------------------------


def cmd_toolchains(args: argparse.Namespace) -> int:
    langs = args.languages or list(DRIVERS)
    if args.install:
        for lang in langs:
            get_toolchain(lang).ensure_installed(_progress)
    rows: list[dict[str, Any]] = []
    for lang in langs:
        try:
            rows.append(get_toolchain(lang).detect().to_dict())
        except ExtismPlatformError as exc:
            rows.append({"language": lang, "found": False, "version": None, "location": None, "install_hint": str(exc)})
    width = max(len(r["language"]) for r in rows)
    lines = []
    for r in rows:
        if r["found"]:
            lines.append(f"{r['language']:<{width}}  found    {r['version']}  ({r['location']})")
        else:
            lines.append(f"{r['language']:<{width}}  missing  install: {r['install_hint']}")
    _emit(args, rows, "\n".join(lines))
    return 0


# ---- init -------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from hatch_extism.project_init import init_project

    name = args.name_opt or args.name
    if not name:
        raise ExtismPlatformError("init: give the plugin's name (extism-plugin init NAME --lang LANG)")
    result = init_project(name, args.lang, Path(args.dir) if args.dir else None, args.description, force=args.force)
    text = "\n".join(
        [
            f"created {result.directory}",
            *(f"  {f}" for f in result.files),
            "",
            "next:",
            f"  cd {result.directory}",
            "  extism-plugin build      # or: hatch build",
            "  extism-plugin test",
        ]
    )
    _emit(args, result.to_dict(), text)
    return 0


# ---- import -------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from hatch_extism.build import build_artifacts
    from hatch_extism.project_import import import_module
    from plugin_format.manifest import load_manifest

    key = _signing_key(args)  # before writing anything: a missing key stops the import
    result = import_module(
        Path(args.module),
        args.name,
        args.version,
        directory=Path(args.out) if args.out else None,
        exports_from=Path(args.exports_from) if args.exports_from else None,
        description=args.description,
        force=args.force,
    )
    manifest = load_manifest(result.manifest)
    artifacts = build_artifacts(manifest, result.directory / "dist", key=key, progress=_progress)
    lines = [f"created {result.directory}", f"  exports (input: text): {', '.join(result.exports)}"]
    lines += [f"  fill in {t}" for t in result.to_fill_in]
    lines += [str(artifacts.wasm), str(artifacts.plugin_json), str(artifacts.sig)]
    _emit(args, {**result.to_dict(), "artifacts": artifacts.to_dict()}, "\n".join(lines))
    return 0


# ---- build --------------------------------------------------------------------------------------


def _signing_key(args: argparse.Namespace):
    return signing.find_signing_key(
        Path(args.key).expanduser() if args.key else None, unsigned=args.unsigned, explicit_option="--key"
    )


def cmd_build(args: argparse.Namespace) -> int:
    from hatch_extism.build import build_artifacts
    from plugin_format.manifest import load_manifest

    manifest = load_manifest(Path(args.project))
    key = _signing_key(args)
    out = Path(args.out) if args.out else manifest.project_dir / "dist"
    artifacts = build_artifacts(manifest, out, key=key, progress=_progress, optimize=args.optimize)
    text = "\n".join([str(artifacts.wasm), str(artifacts.plugin_json), str(artifacts.sig)])
    _emit(args, artifacts.to_dict(), text)
    return 0


# ---- test ----------------------------------------------------------------------------------------


def cmd_test(args: argparse.Namespace) -> int:
    from extism_platform.plugin_tests import run_tests
    from hatch_extism.build import build_artifacts
    from plugin_format.manifest import load_manifest

    manifest = load_manifest(Path(args.project))
    if not manifest.tests:
        raise ExtismPlatformError(f"{manifest.path}: declares no tests (add a `tests:` list)")
    if args.wasm:
        wasm = Path(args.wasm).read_bytes()
    else:
        artifacts = build_artifacts(manifest, manifest.project_dir / "build" / "test", key=None, progress=_progress)
        wasm = artifacts.wasm.read_bytes()
    outcomes = run_tests(manifest, wasm, _linked_builds(args))
    passed = sum(o.passed for o in outcomes)
    failed = len(outcomes) - passed
    lines = [
        f"{'PASS' if o.passed else 'FAIL'}  {o.name}  ({o.ms:.1f} ms){'  ' + o.detail if o.detail else ''}"
        for o in outcomes
    ]
    lines.append(f"{passed} passed, {failed} failed")
    _emit(args, {"tests": [o.to_dict() for o in outcomes], "passed": passed, "failed": failed}, "\n".join(lines))
    return 1 if failed else 0


def _linked_builds(args: argparse.Namespace) -> list[Any]:
    """`--with PATH`: the verified builds a project's dependencies are linked from."""
    from extism_platform.host import sources

    return sources.linked_builds((Path(p) for p in args.with_), allow_unsigned=args.allow_unsigned)


def _read_module(path: Path) -> tuple[bytes, Any]:
    """A module's bytes and parsed imports/exports; errors name the file."""
    from plugin_format.wasm import inspect_module

    try:
        wasm = path.read_bytes()
    except OSError as exc:
        raise ExtismPlatformError(f"{path}: {exc.strerror}") from None
    try:
        return wasm, inspect_module(wasm)
    except ValueError as exc:
        raise ExtismPlatformError(f"{path}: {exc}") from None


# ---- call -------------------------------------------------------------------------------------------


def _read_input(value: str | None) -> bytes:
    if value is None:
        return b""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return sys.stdin.buffer.read() if value == "@-" else path.read_bytes()
        except OSError as exc:
            raise ExtismPlatformError(f"--input {value}: {exc.strerror}") from None
    return value.encode()


def _config_values(items: list[str]) -> dict[str, str]:
    config: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ExtismPlatformError(f"--config {item!r}: expected KEY=VALUE")
        config[key] = value
    return config


def _bare_module_hints() -> Any:
    """Denial hints for `call` on a module without plugin.yaml: the options are the grants."""
    from extism_platform.grants import Hints

    options = {"host": "pass --allow-host {v}", "config": "pass --config {v}=VALUE"}

    def how(plugin: str, capability: str, value: str) -> str:
        # paths and host functions: a bare module gets the host functions it imports and no paths
        return options.get(capability, "run it as a project whose plugin.yaml declares it").format(v=value)

    return Hints(grant=how, undeclared=how)


def cmd_call(args: argparse.Namespace) -> int:
    """One export, on the same Host as the MCP server: same host functions, same HTTP enforcement
    and messages. A project runs with what its plugin.yaml requests; a bare module with what the
    options give it (--allow-host, --config, --wasi)."""
    from extism_platform.grants import Grant
    from extism_platform.host import sources
    from extism_platform.host.runtime import Host
    from extism_platform.plugin_tests import project_hints
    from hatch_extism.build import build_artifacts
    from plugin_format.host_functions import USER_MODULE
    from plugin_format.manifest import load_manifest

    target = Path(args.target)
    config = _config_values(args.config)
    # only the caps given: the rest are plugin.yaml's, or the defaults of a plugin that asks for none
    caps = {k: v for k, v in (("memory_mib", args.memory_mib), ("timeout_ms", args.timeout_ms)) if v is not None}
    if target.is_dir() or target.name == "plugin.yaml":
        manifest = load_manifest(target)
        wasm_path = build_artifacts(
            manifest, manifest.project_dir / "build" / "call", key=None, progress=_progress
        ).wasm
        wasm, info = _read_module(wasm_path)
        artifact = sources.from_project(manifest, wasm, f"project:{manifest.project_dir}", _linked_builds(args))
        hints = project_hints(manifest, config_hint="pass --config {key}=VALUE")
        grant = Grant(requested=True, config=config, **caps)
        if args.enable_http_response_headers and not manifest.permissions.http_response_headers:
            raise ExtismPlatformError(
                f"{manifest.path}: --enable-http-response-headers needs permissions.http_response_headers: true"
            )
    else:
        wasm, info = _read_module(target)
        user = sorted({n for m, n, _ in info.imports if m == USER_MODULE})
        perms = {
            "hosts": args.allow_host,
            "config": sorted(config),
            "host_functions": user,
            "http_response_headers": args.enable_http_response_headers,
            **caps,
        }
        name = target.stem.lower() if names.is_valid(target.stem.lower()) else "module"
        artifact = sources.from_module(
            wasm, name=name, permissions=perms, wasi=args.wasi or info.wasi, source=str(target)
        )
        hints = _bare_module_hints()
        grant = Grant(requested=True, config=config)
    if args.export not in info.func_exports:
        exports = ", ".join(sorted(n for n in info.func_exports if not n.startswith("_"))) or "none"
        raise ExtismPlatformError(f"{target}: no export {args.export!r} (exports: {exports})")
    host = Host(grants={artifact.info.name: grant}, hints=hints)
    host.add(artifact)
    try:
        output = host.call(artifact.info.name, args.export, _read_input(args.input)).output
    except PluginCallError as exc:
        if exc.kind != "error":
            raise  # denials, traps and timeouts already name the plugin and the export
        raise PluginCallError(f"{args.export}: {exc}") from None  # the plugin's own message, as the Extism CLI
    finally:
        host.close()
    sys.stdout.buffer.write(output)
    if sys.stdout.isatty() and not output.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    return 0


# ---- publish --------------------------------------------------------------------------------------


def cmd_publish(args: argparse.Namespace) -> int:
    from plugin_format.artifact import artifact_paths
    from plugin_format.manifest import load_manifest
    from registry_static.targets import publish_settings, publish_to

    manifest = load_manifest(Path(args.project))
    dist = Path(args.dist) if args.dist else manifest.project_dir / "dist"
    wasm, _, _ = artifact_paths(dist, manifest.artifact_stem)
    if not wasm.is_file():
        raise ExtismPlatformError(f"{wasm}: not built yet (run `extism-plugin build` or `hatch build` first)")
    settings = publish_settings(args.registry, args.keys, manifest.project_dir)
    readme = manifest.project_dir / (manifest.readme or "README.md")
    doc, lines = publish_to(settings, wasm, readme=readme if readme.is_file() else None, site=args.site)
    _emit(args, doc, "\n".join(lines))
    return 0


# ---- docs ---------------------------------------------------------------------------------------


EXAMPLE_KEYS = ("export", "input", "kind", "expect")


def cmd_docs(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from plugin_format.manifest import examples_from_tests, load_manifest
    from registry_static.pages import write_project_docs

    manifest = load_manifest(Path(args.project))
    readme_path = manifest.project_dir / (manifest.readme or "README.md")
    readme = readme_path.read_text(encoding="utf-8", errors="replace") if readme_path.is_file() else None
    out = Path(args.out) if args.out else manifest.project_dir / "build" / "docs"
    examples = examples_from_tests(manifest.tests)
    page, view = write_project_docs(
        manifest.to_dict(),
        out,
        readme=readme,
        examples=examples,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        registry_url=args.registry,
    )
    doc = {
        "page": str(page),
        "name": manifest.name,
        "version": manifest.version,
        "readme": str(readme_path) if readme is not None else None,
        "tools": [
            {k: t.get(k) for k in ("name", "description", "input_schema", "output_schema", "input_rows", "output_rows")}
            | {
                "examples": [
                    {k: ex[k] for k in ("export", "input", "kind", "expect") if k in ex} for ex in t["examples"]
                ]
            }
            for t in view["tools"]
        ],
        "permissions": view["permissions"],
        "dependencies": view["dependencies"],
        "install": {s["key"]: s["text"] for s in view["snippets"]},
    }
    hint = "" if readme is not None else f" (no {readme_path.name}: the page has no README section)"
    _emit(args, doc, f"wrote {page}: {len(view['tools'])} export(s), {len(examples)} example(s){hint}")
    return 0


# ---- inspect / verify --------------------------------------------------------------------------------


def _load_public_keys(paths: list[str]) -> list:
    return [signing.load_public_key(Path(p).expanduser()) for p in paths]


def cmd_inspect(args: argparse.Namespace) -> int:
    from plugin_format.artifact import locate, sha256_hex, verify_artifact
    from plugin_format.errors import VerifyError

    wasm_path, json_path, sig_path = locate(Path(args.artifact))
    if not wasm_path.is_file() and Path(args.artifact).is_file():
        wasm_path = Path(args.artifact)
    wasm, info = _read_module(wasm_path)
    doc: dict[str, Any] = {
        "wasm": str(wasm_path),
        "size": len(wasm),
        "sha256": sha256_hex(wasm),
        "wasi": info.wasi,
        "exports": {n: {"params": p, "results": r} for n, (p, r) in sorted(info.func_exports.items())},
        "imports": [f"{m}::{n}" for m, n, _ in info.imports],
    }
    if json_path.is_file() and sig_path.is_file():
        try:
            v = verify_artifact(wasm_path, keys=_load_public_keys(args.key), require_signature=False)
            doc["signature"] = {
                "status": ("verified" if v.trusted else "signed, key not checked (use --key)")
                if v.signed
                else "unsigned",
                "key_ids": v.key_ids,
            }
            doc["plugin"] = {k: v.manifest.get(k) for k in ("name", "version", "language", "description")}
            doc["bom"] = v.manifest.get("bom") or []
        except (VerifyError, signing.SigningError) as exc:
            doc["signature"] = {"status": f"INVALID: {exc}"}
    else:
        doc["signature"] = {"status": "no .plugin.json/.sig beside the module"}
    lines = [f"{doc['wasm']}: {doc['size']:,} bytes, sha256 {doc['sha256']}", f"wasi: {'yes' if info.wasi else 'no'}"]
    if "plugin" in doc:
        p = doc["plugin"]
        lines.insert(0, f"{p['name']} {p['version']} ({p['language']}): {p['description']}")
    lines.append(
        "exports: "
        + ", ".join(
            f"{n}({', '.join(e['params'])}) -> {', '.join(e['results']) or '()'}" for n, e in doc["exports"].items()
        )
    )
    lines.append("imports: " + (", ".join(doc["imports"]) or "none"))
    if "bom" in doc:  # the bill of materials its plugin.json records
        lines.append("bundles: " + (", ".join(f"{e['type']}:{e['name']}@{e['version']}" for e in doc["bom"]) or "none"))
    lines.append(f"signature: {doc['signature']['status']}")
    _emit(args, doc, "\n".join(lines))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from plugin_format.artifact import verify_artifact

    keys = _load_public_keys(args.key)
    # Without --key the signature must still verify, against a key this machine knows.
    v = verify_artifact(
        Path(args.artifact), keys=keys, require_signature=True, known_keys=None if keys else signing.known_public_keys()
    )
    if keys:
        text = f"OK: {v.name} {v.version} — wasm sha256 {v.wasm_sha256}, signed by {v.key_ids[0][:16]} (trusted key)"
    else:
        text = (
            f"OK: {v.name} {v.version} — files match the signed statement, signed by "
            f"{', '.join(k[:16] for k in v.key_ids)} (a key this machine knows; pass --key PUB to require one)"
        )
    _emit(args, v.to_dict(), text)
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    passphrase = None
    if args.passphrase_env:
        value = os.environ.get(args.passphrase_env)
        if not value:
            raise ExtismPlatformError(f"--passphrase-env {args.passphrase_env}: that variable is not set")
        passphrase = value.encode()
    elif args.passphrase:
        first = getpass.getpass("passphrase: ")
        if first != getpass.getpass("again: "):
            raise ExtismPlatformError("the passphrases differ")
        passphrase = first.encode()
    out = Path(args.out).expanduser() if args.out else default_signing_key()
    kid = signing.generate_keypair(out, passphrase, overwrite=args.force)
    doc = {"private_key": str(out), "public_key": f"{out}.pub", "key_id": kid, "encrypted": passphrase is not None}
    _emit(args, doc, f"key id {kid}\nprivate key: {out} (mode 0600 — keep it secret)\npublic key:  {out}.pub")
    return 0


# ---- the parser ------------------------------------------------------------------------------------


def _sub(
    sub: Any,
    name: str,
    help_text: str,
    func: Callable[[argparse.Namespace], int],
    *,
    aliases: tuple[str, ...] = (),
    json_flag: bool = True,
) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        aliases=list(aliases),
        epilog=EXAMPLES.get(name, ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if json_flag:
        p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=func)
    return p


def _with_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--with",
        dest="with_",
        action="append",
        default=[],
        metavar="PATH",
        help="a signed build of a dependency to link (a dist/ directory or a .wasm beside its .plugin.json "
        "and .sig; repeatable)",
    )
    p.add_argument("--allow-unsigned", action="store_true", help="link --with builds that carry no signature")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="extism-plugin",
        description="Write, build, sign and test Extism plugins in many languages.",
        epilog=EXAMPLES["main"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version_flag(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _sub(sub, "init", "create a plugin project from a template", cmd_init)
    p.add_argument("name", nargs="?", help="[@scope/]name, e.g. weather-tool or @acme/weather")
    p.add_argument("--name", dest="name_opt", help="the same, as an option")
    p.add_argument("--lang", required=True, help=f"one of: {', '.join(DRIVERS)}")
    p.add_argument("--dir", help="where to create it (default: ./<name>)")
    p.add_argument("--description", help="one line for plugin.yaml")
    p.add_argument("--force", action="store_true", help="write into an existing non-empty directory")

    for name, aliases in (("build", ("package",)),):
        p = _sub(
            sub,
            name,
            "compile, check and sign the plugin into dist/ (same result as `hatch build`)",
            cmd_build,
            aliases=aliases,
        )
        p.add_argument("project", nargs="?", default=".", help="the project directory (default: .)")
        p.add_argument("--key", help=f"private key (default: ${signing.KEY_ENV}, then {default_signing_key()})")
        p.add_argument("--unsigned", action="store_true", help="build without a signature, on purpose")
        p.add_argument("--out", help="output directory (default: <project>/dist)")
        p.add_argument("--optimize", choices=("small", "speed", "debug"), default="small")

    p = _sub(sub, "import", "make a plugin project from a prebuilt module (any Extism PDK) and sign it", cmd_import)
    p.add_argument("module", help="the .wasm to import")
    p.add_argument("--name", required=True, help="[@scope/]name of the plugin")
    p.add_argument("--version", default="0.1.0", help="its version (default 0.1.0)")
    p.add_argument("--exports-from", metavar="plugin.yaml", help="take exports (schemas, input) from this file")
    p.add_argument("--out", help="the project directory to write (default: ./<name>)")
    p.add_argument("--description", help="one line for plugin.yaml")
    p.add_argument("--force", action="store_true", help="write into an existing non-empty directory")
    p.add_argument("--key", help=f"private key (default: ${signing.KEY_ENV}, then {default_signing_key()})")
    p.add_argument("--unsigned", action="store_true", help="build without a signature, on purpose")

    p = _sub(sub, "test", "run plugin.yaml's tests in the real Extism host (HTTP mocked per test)", cmd_test)
    p.add_argument("project", nargs="?", default=".", help="the project directory (default: .)")
    p.add_argument("--wasm", help="test this module instead of building the project")
    _with_option(p)

    p = _sub(sub, "call", "call one export of a module (or a project, built first)", cmd_call, json_flag=False)
    p.add_argument("target", help="a .wasm file or a project directory")
    p.add_argument("export", help="the export to call")
    p.add_argument("--input", help="the input: text, @FILE, or @- for stdin")
    p.add_argument("--config", action="append", default=[], metavar="K=V", help="a config value (repeatable)")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST", help="allow HTTP to HOST")
    p.add_argument("--wasi", action="store_true", help="enable WASI (default: when the module imports it)")
    p.add_argument(
        "--enable-http-response-headers",
        action="store_true",
        help="let a bare module read its HTTP responses' headers (a project: when plugin.yaml asks for it)",
    )
    p.add_argument("--timeout-ms", type=int, help="cap the call's time (default: plugin.yaml's, else 30000)")
    p.add_argument("--memory-mib", type=int, help="cap the call's memory (default: plugin.yaml's, else 64)")
    _with_option(p)

    p = _sub(
        sub, "publish", "publish the built, signed artifacts to a registry (directory, git remote, OCI)", cmd_publish
    )
    p.add_argument("project", nargs="?", default=".", help="the project directory (default: .)")
    p.add_argument(
        "--registry",
        help="a registry directory or file:// URL, a git remote (git+https://…, git+ssh://…, git+file://…, "
        "git://…, or a path ending .git) or oci://host[:port]/repo (default: the project's pyproject.toml "
        "[tool.extism-platform.publish] registry, else publish.registry in ~/.config/extism-platform/config.yaml)",
    )
    p.add_argument(
        "--keys",
        help="the registry's key directory (default: $EXTISM_REGISTRY_KEYS, the settings' keys, else <registry>.keys)",
    )
    p.add_argument("--dist", help="where the artifacts are (default: <project>/dist)")
    p.add_argument("--site", action="store_true", help="regenerate the registry's HTML site afterwards")

    p = _sub(sub, "docs", "build the plugin's documentation page from plugin.yaml and its README", cmd_docs)
    p.add_argument("project", nargs="?", default=".", help="the project directory (default: .)")
    p.add_argument("--out", help="output directory (default: <project>/build/docs)")
    p.add_argument("--registry", metavar="URL", help="the registry URL to show in the install snippets")

    p = _sub(sub, "inspect", "show a module's exports, imports, size, sha256 and signature status", cmd_inspect)
    p.add_argument("artifact", help="a .wasm (with or without its .plugin.json/.sig beside it)")
    p.add_argument("--key", action="append", default=[], metavar="PUB", help="check the signature against this key")

    p = _sub(sub, "verify", "check an artifact's files against its signature (and a trusted key)", cmd_verify)
    p.add_argument("artifact", help="any of <name>-<version>.wasm / .plugin.json / .sig")
    p.add_argument("--key", action="append", default=[], metavar="PUB", help="trusted public key (repeatable)")

    from extism_platform.cli.packages import register_package_commands

    register_package_commands(sub, _sub)  # install, add, remove, update, outdated, list, tree, why, …

    p = _sub(sub, "keygen", "create an Ed25519 signing key pair", cmd_keygen)
    p.add_argument("--out", help=f"private key path (default: {default_signing_key()})")
    p.add_argument("--passphrase", action="store_true", help="encrypt the key with a passphrase (prompted)")
    p.add_argument("--passphrase-env", metavar="VAR", help="encrypt with the passphrase in this variable")
    p.add_argument("--force", action="store_true", help="replace an existing key")

    from extism_platform.audit import register_audit_commands
    from extism_platform.cli.audit_cmd import register_audit
    from extism_platform.cli.login import register_login_commands

    register_audit_commands(sub)
    register_audit(sub)
    register_login_commands(sub)

    p = _sub(sub, "toolchains", "list each language's compiler: found / version / how to install", cmd_toolchains)
    p.add_argument("languages", nargs="*", help=f"languages to show (default: all of {', '.join(DRIVERS)})")
    p.add_argument("--install", action="store_true", help="install missing toolchains first")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command("extism-plugin", lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
