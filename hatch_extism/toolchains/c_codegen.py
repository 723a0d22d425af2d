"""C source generation shared by the drivers that embed an interpreter (Python, JavaScript, Ruby):
string and byte literals, the host functions a script declares, and the import trampolines that
let the interpreter call them by index.

A trampoline is a `static uint64_t call_N(const uint64_t *a)` around one wasm import, so the
runtime's C glue calls any host function through one signature, whatever its arity.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from plugin_format.errors import BuildError

_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-./:$#@!%&*+,;<=>^`|~()[]{}'")


def c_string(text: str) -> str:
    """A C string literal for `text` (UTF-8); anything else as a 3-digit octal escape, which keeps
    it unambiguous (`"\\0101"` cannot happen) and free of trigraphs (`?` is escaped)."""
    return '"' + "".join(chr(b) if b in _SAFE else f"\\{b:03o}" for b in text.encode("utf-8")) + '"'


def c_bytes(data: bytes) -> str:
    """A C initializer for `data` plus a terminating NUL (the interpreters take source as a C string)."""
    data += b"\0"
    rows = (",".join(map(str, data[i : i + 32])) for i in range(0, len(data), 32))
    return "{" + ",\n".join(rows) + "}"


@dataclass(frozen=True)
class HostImport:
    """One wasm import the plugin's code calls: `module::name(i64 × params) -> i64?`."""

    module: str
    name: str
    params: int
    has_result: bool


@functools.lru_cache(maxsize=4)
def _declaration(callee: str) -> re.Pattern[str]:
    # callee("module", "name"[, params[, results]]) with literal arguments
    return re.compile(
        rf"""{re.escape(callee)}\(\s*(["'])([^"'\\]+)\1\s*,\s*(["'])([^"'\\]+)\3\s*(?:,\s*(\d)\s*)?(?:,\s*([01])\s*)?\)"""
    )


def declared_host_functions(text: str, callee: str, max_params: int) -> list[HostImport]:
    """The host functions a script declares with `callee("module", "name"[, params[, results]])`
    (literal arguments; params and results default to 1), in order; `BuildError` for more than
    `max_params` parameters or one function declared with two signatures."""
    found: dict[tuple[str, str], HostImport] = {}
    for m in _declaration(callee).finditer(text):
        fn = HostImport(m.group(2), m.group(4), int(m.group(5) or 1), bool(int(m.group(6) or 1)))
        if fn.params > max_params:
            raise BuildError(f"host function {fn.module}::{fn.name}: at most {max_params} parameters")
        previous = found.setdefault((fn.module, fn.name), fn)
        if previous != fn:
            raise BuildError(f"host function {fn.module}::{fn.name} is declared with two signatures")
    return list(found.values())


def trampolines(imports: Sequence[HostImport]) -> tuple[list[str], list[str]]:
    """(C definitions, table rows `{module, name, params, has_result, call_N}`) for `imports`."""
    defs: list[str] = []
    rows: list[str] = []
    for i, imp in enumerate(imports):
        params = ", ".join(["uint64_t"] * imp.params) or "void"
        args = ", ".join(f"a[{p}]" for p in range(imp.params))
        result = "uint64_t" if imp.has_result else "void"
        call = f"return import_{i}({args});" if imp.has_result else f"import_{i}({args}); return 0;"
        defs += [
            f"__attribute__((import_module({c_string(imp.module)}), import_name({c_string(imp.name)}))) "
            f"{result} import_{i}({params});",
            f"static uint64_t call_{i}(const uint64_t *a) {{ {'(void)a; ' if not imp.params else ''}{call} }}",
        ]
        rows.append(f"{{{c_string(imp.module)}, {c_string(imp.name)}, {imp.params}, {int(imp.has_result)}, call_{i}}}")
    return defs, rows


def export_stubs(exports: Sequence[str], call: str) -> list[str]:
    """One `() -> i32` wasm export per name, each `return <call>;` with `{index}` and `{name}`
    (a C string literal) filled in."""
    return [
        f"__attribute__((export_name({c_string(name)}))) int32_t export_{i}(void) "
        f"{{ return {call.format(index=i, name=c_string(name))}; }}"
        for i, name in enumerate(exports)
    ]
