"""C source generation shared by the drivers that embed an interpreter (Python, JavaScript): string
literals, and the import trampolines that let the interpreter call host functions by index.

A trampoline is a `static uint64_t call_N(const uint64_t *a)` around one wasm import, so the
runtime's C glue calls any host function through one signature, whatever its arity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-./:$#@!%&*+,;<=>^`|~()[]{}'")


def c_string(text: str) -> str:
    """A C string literal for `text` (UTF-8); anything else as a 3-digit octal escape, which keeps
    it unambiguous (`"\\0101"` cannot happen) and free of trigraphs (`?` is escaped)."""
    return '"' + "".join(chr(b) if b in _SAFE else f"\\{b:03o}" for b in text.encode("utf-8")) + '"'


@dataclass(frozen=True)
class HostImport:
    """One wasm import the plugin's code calls: `module::name(i64 × params) -> i64?`."""

    module: str
    name: str
    params: int
    has_result: bool


def trampolines(imports: Sequence[HostImport]) -> tuple[list[str], list[str]]:
    """(C definitions, table rows `{module, name, params, has_result, call_N}`) for `imports`."""
    defs: list[str] = []
    rows: list[str] = []
    for i, imp in enumerate(imports):
        params = ", ".join(["uint64_t"] * imp.params) or "void"
        args = ", ".join(f"a[{p}]" for p in range(imp.params))
        result = "uint64_t" if imp.has_result else "void"
        call = f"return host_{i}({args});" if imp.has_result else f"host_{i}({args}); return 0;"
        defs += [
            f"__attribute__((import_module({c_string(imp.module)}), import_name({c_string(imp.name)})))",
            f"{result} host_{i}({params});",
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
