"""Plugin names: the one validator and the one fold, for every side.

A name is `[@scope/]name`: lowercase ASCII letters, digits and `-` (not first or last), at most 64
characters in all. Where a name must become one token, the scope is folded in with `-`
(`@acme/weather` → `acme-weather`: artifact file names, Python project names) or, for
identifiers, `_` (`acme_weather`: Rust crates, Python modules). Tool names are built from
`split` by the MCP server (`acme_weather-get_weather`), where `_` keeps the scope unambiguous.

A linked dependency (plugin.yaml `dependencies:`) is a wasm module of its own in the plugin's Extism
manifest, and the importing module names it by the dependency's plugin name *unfolded*
(`module_name`): `@acme/units` imports as module `"@acme/units"`. No fold is needed: a wasm import
module is any UTF-8 string, the Extism runtime links a manifest's `wasm[].name` as given (checked
with extism 1.1.1: `@`, `/` and `-` work), and every compiler of the platform writes the string
as is (C/C++ `import_module("@acme/units")`, Zig `extern "@acme/units"`, Rust
`#[link(wasm_import_module = "@acme/units")]`, Go `//go:wasmimport @acme/units f`,
AssemblyScript `@external("@acme/units", "f")`). Two names are taken: `main` is the importing
module's own name in the manifest, and a plugin name cannot contain `:` so it never meets
`extism:host/*`; no plugin name matches a WASI module (they contain `_`).
"""

from __future__ import annotations

import re

from plugin_format.errors import ManifestError

MAX_NAME = 64
_PART = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
#: The JSON Schema `pattern` form (the schema and this module must accept the same names).
NAME_PATTERN = rf"^(@{_PART}/)?{_PART}$(?!\n)"  # `$(?!\n)`: no trailing newline, in ECMA and Python
_NAME = re.compile(rf"(?:@({_PART})/)?({_PART})")
_SCOPE = re.compile(_PART)
#: The Python entry-point group under which a plugin's wheel registers its artifacts.
ENTRY_POINT_GROUP = "extism.plugins"
#: The module name of the plugin itself in its Extism manifest (the runtime calls exports of `main`).
MAIN_MODULE = "main"


def is_valid(name: object) -> bool:
    """True for a well-formed plugin name (ASCII only; no trailing newline)."""
    return isinstance(name, str) and len(name) <= MAX_NAME and _NAME.fullmatch(name) is not None


def check(name: object, where: str = "name") -> str:
    """`name` itself, or `ManifestError` naming `where` and the rule."""
    if not is_valid(name):
        raise ManifestError(
            f"{where}: {name!r} is not a plugin name ([@scope/]name: lowercase letters, digits and '-', "
            f"at most {MAX_NAME} characters, e.g. @acme/weather)"
        )
    return name  # type: ignore[return-value]


def is_valid_scope(scope: object) -> bool:
    return isinstance(scope, str) and _SCOPE.fullmatch(scope) is not None


def split(name: str) -> tuple[str | None, str]:
    """`@acme/weather` → (`acme`, `weather`); `greeter` → (None, `greeter`)."""
    m = _NAME.fullmatch(check(name))
    assert m is not None
    return m[1], m[2]


def fold(name: str) -> str:
    """`@acme/weather` → `acme-weather`; `greeter` → `greeter`."""
    scope, bare = split(name)
    return f"{scope}-{bare}" if scope else bare


def identifier(name: str) -> str:
    """`@acme/weather` → `acme_weather`: a name usable as a Python module or Rust crate."""
    return fold(name).replace("-", "_")


def python_package(name: str) -> str:
    """The module a plugin's wheel ships its artifacts in: `extism_plugins.<identifier>`."""
    return "extism_plugins." + identifier(name)


def module_name(dependency: str, where: str = "dependencies") -> str:
    """The wasm import module under which a plugin imports `dependency`'s exports: the plugin name
    itself (see the module docstring). `ManifestError` for `main`, the importer's own module."""
    check(dependency, where)
    if dependency == MAIN_MODULE:
        raise ManifestError(
            f"{where}: a plugin named {MAIN_MODULE!r} cannot be a linked dependency (the Extism manifest "
            f"names the importing module {MAIN_MODULE!r}); publish the library under another name"
        )
    return dependency
