"""Read a module's imports and exports without compiling it, and audit them against plugin.yaml.

A small reader of the binary format's type, import, function and export sections, plus wasmtime's
validator (validation is much cheaper than compilation: a 3 MB Go module validates in a fraction
of the time it takes to compile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from plugin_format import names
from plugin_format.errors import ModuleError
from plugin_format.host_functions import ENV_MODULE, USER_MODULE, allowed_imports

if TYPE_CHECKING:
    from plugin_format.manifest import PluginManifest

WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")
_VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


@dataclass(frozen=True)
class ModuleInfo:
    imports: list[tuple[str, str, str]]  # (module, name, kind)
    exports: dict[str, str]  # name -> kind ("func", "memory", …)
    func_exports: dict[str, tuple[list[str], list[str]]]  # name -> (params, results)
    func_imports: dict[tuple[str, str], tuple[list[str], list[str]]]
    #: the module has a start section (code run at instantiation, before any export is called)
    start: bool = False
    #: initial size of its (first) memory in 64 KiB pages, defined or imported: what instantiating it takes
    memory_pages: int = 0

    @property
    def wasi(self) -> bool:
        return any(mod in WASI_MODULES for mod, _, _ in self.imports)


class _Reader:
    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.end = data, pos, len(data) if end is None else end

    def byte(self) -> int:
        if self.pos >= self.end:
            raise ValueError("unexpected end of section")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u32(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 35:
                raise ValueError("malformed LEB128 integer")

    def skip_s(self, bits: int) -> None:
        """Skip a signed LEB128 of at most `bits` bits (GC heap types are s33)."""
        for _ in range((bits + 6) // 7):
            if not self.byte() & 0x80:
                return

    def name(self) -> str:
        n = self.u32()
        if self.pos + n > self.end:
            raise ValueError("name runs past its section")
        s = self.data[self.pos : self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return s

    def valtype(self) -> str:
        """One value type; a reference type of the GC proposal (`ref null? <heaptype>`) is two or
        more bytes, which modules of Wasm GC languages (Kotlin/Wasm) use in signatures."""
        code = self.byte()
        if code in (0x63, 0x64):  # (ref null ht) / (ref ht): a heap type, an s33
            self.skip_s(33)
            return "ref"
        return _VALTYPES.get(code, "ref" if code >= 0x69 else "?")

    def rec_group(self) -> list[tuple[list[str], list[str]]]:
        """The type section's entries of one recursive group (a plain function type is a group of
        one): every sub type takes one type index; struct and array types have no signature."""
        if self.data[self.pos] != 0x4E:  # not `rec`: a single sub type
            return [self.subtype()]
        self.pos += 1
        return [self.subtype() for _ in range(self.u32())]

    def subtype(self) -> tuple[list[str], list[str]]:
        form = self.byte()
        if form in (0x50, 0x4F):  # sub / sub final: super type indices, then the composite type
            for _ in range(self.u32()):
                self.u32()
            form = self.byte()
        return self.comptype(form)

    def comptype(self, form: int) -> tuple[list[str], list[str]]:
        if form == 0x60:
            params = [self.valtype() for _ in range(self.u32())]
            results = [self.valtype() for _ in range(self.u32())]
            return params, results
        fields = self.u32() if form == 0x5F else 1 if form == 0x5E else None
        if fields is None:
            raise ValueError("unsupported type form")
        for _ in range(fields):  # storage type (a value type or packed i8/i16), then mutability
            self.valtype()
            self.byte()
        return [], []

    def limits(self) -> int:
        """A limits entry; returns its minimum."""
        flags = self.byte()
        minimum = self.u32()
        if flags & 1:
            self.u32()
        return minimum


def _parse(data: bytes) -> ModuleInfo:
    if data[:4] != b"\0asm":
        raise ValueError("not a WebAssembly module (no \\0asm header)")
    if data[4:8] != b"\x01\x00\x00\x00":
        raise ValueError("not a core WebAssembly module (a component? Extism loads core modules only)")
    r = _Reader(data, 8)
    types: list[tuple[list[str], list[str]]] = []
    imports: list[tuple[str, str, str]] = []
    func_imports: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    func_types: list[int] = []  # type index per function (imports first)
    exports: dict[str, str] = {}
    func_exports: dict[str, tuple[list[str], list[str]]] = {}
    raw_exports: list[tuple[str, int, int]] = []
    start = False
    memories: list[int] = []
    while r.pos < len(data):
        sid = r.byte()
        size = r.u32()
        if r.pos + size > len(data):
            raise ValueError("a section runs past the end of the file (truncated module)")
        s = _Reader(data, r.pos, r.pos + size)
        if sid == 1:  # types
            for _ in range(s.u32()):
                types.extend(s.rec_group())
        elif sid == 2:  # imports
            for _ in range(s.u32()):
                mod, name, kind = s.name(), s.name(), s.byte()
                imports.append((mod, name, _KINDS.get(kind, "?")))
                if kind == 0:
                    t = s.u32()
                    func_types.append(t)
                    func_imports[(mod, name)] = types[t] if t < len(types) else ([], [])
                elif kind == 1:
                    s.valtype()
                    s.limits()
                elif kind == 2:
                    memories.append(s.limits())
                elif kind == 3:
                    s.valtype()
                    s.byte()
                elif kind == 4:
                    s.byte()
                    s.u32()
        elif sid == 3:  # functions
            func_types.extend(s.u32() for _ in range(s.u32()))
        elif sid == 5:  # memories
            memories.extend(s.limits() for _ in range(s.u32()))
        elif sid == 8:  # start
            start = True
        elif sid == 7:  # exports
            for _ in range(s.u32()):
                name, kind, index = s.name(), s.byte(), s.u32()
                raw_exports.append((name, kind, index))
        r.pos += size
    for name, kind, index in raw_exports:
        exports[name] = _KINDS.get(kind, "?")
        if kind == 0 and index < len(func_types) and func_types[index] < len(types):
            func_exports[name] = types[func_types[index]]
    return ModuleInfo(imports, exports, func_exports, func_imports, start, memories[0] if memories else 0)


def inspect_module(data: bytes, *, validate: bool = True) -> ModuleInfo:
    """Parse `data` as a core wasm module. Raises `ValueError` (one line) when it is not one."""
    try:
        info = _parse(data)
    except (ValueError, IndexError) as exc:
        msg = str(exc) if str(exc).startswith("not a") else f"invalid WebAssembly module: {exc}"
        raise ValueError(msg) from None
    if validate:
        import wasmtime  # noqa: PLC0415 - its runtime is loaded only where a module is validated

        try:
            wasmtime.Module.validate(wasmtime.Engine(), data)
        except wasmtime.WasmtimeError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "failed validation"
            raise ValueError(f"invalid WebAssembly module: {first}") from None
    return info


def imports_wasi(data: bytes) -> bool:
    return inspect_module(data, validate=False).wasi


def check_module(info: ModuleInfo, manifest: PluginManifest) -> None:
    """The module must export what plugin.yaml declares and import only what it may."""
    problems = module_problems(info, manifest)
    if problems:
        raise ModuleError(f"{manifest.path.name}: the built module does not match:\n  " + "\n  ".join(problems))


def module_problems(info: ModuleInfo, manifest: PluginManifest) -> list[str]:
    """One line per way the module differs from its manifest (exports and hooks declared, imports
    permitted: the kernel, declared host functions, WASI when `wasi: true`, and functions of the
    plugins it lists in `dependencies`, module = the dependency's name, `names.module_name`):
    the build, `publish` and `install` all ask this (see `plugin_format.scan`)."""
    problems = []
    for exp in manifest.exports:
        sig = info.func_exports.get(exp.name)
        if sig is None:
            problems.append(f"export {exp.name!r} is declared in plugin.yaml but the module does not export it")
        elif sig != ([], ["i32"]):
            problems.append(f"export {exp.name!r} has signature {sig[0]} -> {sig[1]}; Extism exports are () -> i32")
    for hook, export in sorted(manifest.hooks.items()):
        sig = info.func_exports.get(export)
        if sig is None:
            problems.append(f"hooks.{hook}: the module does not export {export!r}")
        elif sig != ([], ["i32"]):
            problems.append(f"hooks.{hook}: export {export!r} has signature {sig[0]} -> {sig[1]}; hooks are () -> i32")
    user_ok = allowed_imports(manifest.permissions.host_functions)
    linked = {names.module_name(d, f"{manifest.path.name}: dependencies"): d for d in manifest.dependencies}
    for mod, name, kind in info.imports:
        if mod == ENV_MODULE or (mod in linked and kind == "func"):
            continue
        if mod == USER_MODULE:
            if name not in user_ok:
                problems.append(
                    f"import {mod}::{name} is not declared: add {name!r} (or its group) to "
                    "permissions.host_functions in plugin.yaml"
                )
        elif mod in WASI_MODULES:
            if not manifest.wasi:
                problems.append(f"import {mod}::{name} needs WASI: set `wasi: true` in plugin.yaml")
        elif mod in linked:
            problems.append(f"import {mod}::{name} is a {kind}; a linked dependency provides functions only")
        else:
            problems.append(
                f"import {mod}::{name} ({kind}) is from a module the Extism host does not provide (a linked "
                f"plugin is imported under its name: declare it in plugin.yaml `dependencies:`)"
            )
    return problems
