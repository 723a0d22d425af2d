"""`extism-plugin import MODULE.wasm`: a plugin project around a module built elsewhere.

The module (built with an official Extism PDK, or anything that speaks the kernel ABI) is copied
into a new project as `module.wasm`, beside a plugin.yaml of `language: prebuilt` written from
what the module itself says:

- exports: every function export of Extism's shape `() -> i32` (wasm runtime entry points such as
  `_start` / `_initialize` and names starting with `_` are left out); each gets `input: text`,
  since the official PDKs' examples read their input as plain text (`Host.inputString()`,
  `pdk.InputString()`), so each becomes an MCP tool with one string argument. Schemas are left for
  the author to fill in. `--exports-from plugin.yaml` takes the exports (descriptions, schemas,
  `input`) from an existing plugin.yaml instead, each checked against the module.
- permissions, from the imports: `extism:host/user` functions → `host_functions` (by group when
  the catalogue has one), WASI → `wasi: true`, the kernel's `http_request` → a `hosts` list to fill
  in, `http_headers` → `http_response_headers: true`, `config_get` → a `config` list to fill in.
  Nothing is granted by this: the user still grants each.

An import the platform's host cannot satisfy (a `extism:host/user` function outside the
catalogue, a module of its own such as AssemblyScript's `env`) stops the import, naming it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from hatch_extism.data import templates_dir
from hatch_extism.project_init import context_for
from hatch_extism.toolchains.prebuilt import DEFAULT_MODULE
from plugin_format import names
from plugin_format.errors import InitError
from plugin_format.host_functions import ENV_MODULE, GROUPS, USER_MODULE
from plugin_format.manifest import MANIFEST_NAME, from_dict, load_manifest
from plugin_format.wasm import WASI_MODULES, ModuleInfo, inspect_module

#: exports a wasm toolchain adds for its runtime, never plugin functions
RUNTIME_EXPORTS = frozenset({"_start", "_initialize", "__wasm_call_ctors", "hs_init"})


@dataclass(frozen=True)
class ImportResult:
    directory: Path
    manifest: Path
    module: Path
    exports: list[str]
    to_fill_in: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "manifest": str(self.manifest),
            "module": str(self.module),
            "exports": self.exports,
            "to_fill_in": self.to_fill_in,
        }


def plugin_exports(info: ModuleInfo) -> list[str]:
    """The module's exports that are Extism plugin functions, sorted."""
    return sorted(
        name
        for name, sig in info.func_exports.items()
        if sig == ([], ["i32"]) and name not in RUNTIME_EXPORTS and not name.startswith("_")
    )


def permissions_from_imports(info: ModuleInfo, where: str) -> tuple[dict[str, Any], list[str]]:
    """(permissions for plugin.yaml, what the author must fill in) from the module's imports."""
    user: set[str] = set()
    env: set[str] = set()
    foreign: list[str] = []
    for mod, name, kind in info.imports:
        if mod == ENV_MODULE:
            env.add(name)
        elif mod == USER_MODULE:
            user.add(name)
        elif mod not in WASI_MODULES:
            foreign.append(f"{mod}::{name} ({kind})")
    catalogue = {fn: group for group, fns in GROUPS.items() for fn in fns}
    unknown = sorted(n for n in user if n not in catalogue)
    problems = [f"{USER_MODULE}::{n} is not a host function this platform offers" for n in unknown]
    problems += [f"{f} is from a module no Extism host provides" for f in sorted(foreign)]
    if problems:
        raise InitError(f"{where}: cannot be imported as it is:\n  " + "\n  ".join(problems))
    perms: dict[str, Any] = {}
    todo: list[str] = []
    if user:
        perms["host_functions"] = sorted({catalogue[n] for n in user})
    if "http_request" in env:
        perms["hosts"] = []
        todo.append("permissions.hosts: the hosts the module may reach over HTTP")
    if "http_headers" in env:
        perms["http_response_headers"] = True
    if "config_get" in env:
        perms["config"] = []
        todo.append("permissions.config: the config keys the module reads")
    return perms, todo


def _exports_from(path: Path, available: list[str], where: str) -> list[dict[str, Any]]:
    manifest = load_manifest(path)
    missing = [e.name for e in manifest.exports if e.name not in available]
    if missing:
        raise InitError(
            f"{where}: does not export {', '.join(missing)}, which {path} declares "
            f"(the module's plugin functions: {', '.join(available) or 'none'})"
        )
    return [e.to_dict() for e in manifest.exports]


def _render_common(target: Path, ctx: dict[str, Any], files: tuple[str, ...]) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    for rel in files:
        text = env.get_template(f"_common/{rel}.j2").render(**ctx)
        (target / rel).write_text(text, encoding="utf-8")


def manifest_text(doc: dict[str, Any], module_name: str, todo: list[str]) -> str:
    head = [
        f"# {doc['name']}: imported from {module_name} by `extism-plugin import` (language: prebuilt).",
        "# `extism-plugin build` (or `hatch build`) checks, signs and packages build.module; the",
        "# exports are plain-text tools (`input: text`) until you give them an input_schema and `input: json`.",
        "# Schema: plugin_format/schema/plugin.schema.json in extism-platform.",
    ]
    if todo:
        head += ["# To fill in:", *(f"#   {t}" for t in todo)]
    return "\n".join(head) + "\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def import_module(
    module: Path,
    name: str,
    version: str,
    *,
    directory: Path | None = None,
    exports_from: Path | None = None,
    description: str | None = None,
    force: bool = False,
) -> ImportResult:
    """Write the project (nothing is written unless all of it can be) and return where it is."""
    if not names.is_valid(name):
        raise InitError(
            f"plugin name {name!r}: use [@scope/]name with lowercase letters, digits and '-', "
            "at most 64 characters (e.g. count-vowels or @acme/count-vowels)"
        )
    try:
        data = module.read_bytes()
    except OSError as exc:
        raise InitError(f"{module}: {exc.strerror}") from None
    try:
        info = inspect_module(data)
    except ValueError as exc:
        raise InitError(f"{module}: {exc}") from None
    available = plugin_exports(info)
    if exports_from is not None:
        exports = _exports_from(exports_from, available, str(module))
    else:
        if not available:
            raise InitError(f"{module}: exports no Extism plugin function (`() -> i32`)")
        exports = [{"name": n, "description": "", "input": "text"} for n in available]
    perms, todo = permissions_from_imports(info, str(module))
    if exports_from is None:
        todo.append("exports[].description, and input_schema/output_schema where the input or output is JSON")
    ctx = context_for(name, "prebuilt", description)
    doc: dict[str, Any] = {
        "name": name,
        "version": version,
        "description": ctx["description"],
        "language": "prebuilt",
        "build": {"module": DEFAULT_MODULE},
        **({"wasi": True} if info.wasi else {}),
        "exports": exports,
        "permissions": perms,
    }
    target = (directory or Path(ctx["bare_name"])).resolve()
    if target.exists() and any(target.iterdir()) and not force:
        raise InitError(f"{target}: exists and is not empty (choose another --out, or --force to write into it)")
    from_dict(doc, target / MANIFEST_NAME)  # the written plugin.yaml must load: check before writing
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extism-import-", dir=target.parent))
    try:
        (staging / DEFAULT_MODULE).write_bytes(data)
        (staging / MANIFEST_NAME).write_text(manifest_text(doc, module.name, todo), encoding="utf-8")
        _render_common(staging, ctx, ("pyproject.toml", ".gitignore"))
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(staging.iterdir()):
            os.replace(path, target / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ImportResult(target, target / MANIFEST_NAME, target / DEFAULT_MODULE, [e["name"] for e in exports], todo)
