"""Read a module's imports and exports without running it (wasmtime's parser)."""

from __future__ import annotations

from dataclasses import dataclass

import wasmtime

WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")


@dataclass(frozen=True)
class ModuleInfo:
    imports: list[tuple[str, str, str]]  # (module, name, kind)
    exports: dict[str, str]  # name -> kind ("func", "memory", …)
    func_exports: dict[str, tuple[list[str], list[str]]]  # name -> (params, results)

    @property
    def wasi(self) -> bool:
        return any(mod in WASI_MODULES for mod, _, _ in self.imports)


def _kind(ty: object) -> str:
    return {
        wasmtime.FuncType: "func",
        wasmtime.MemoryType: "memory",
        wasmtime.GlobalType: "global",
        wasmtime.TableType: "table",
    }.get(type(ty), type(ty).__name__)


def inspect_module(data: bytes) -> ModuleInfo:
    """Parse `data` as a core wasm module. Raises `ValueError` when it is not one."""
    if data[:4] != b"\0asm":
        raise ValueError("not a WebAssembly module (no \\0asm header)")
    try:
        module = wasmtime.Module(wasmtime.Engine(), data)
    except wasmtime.WasmtimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid module"
        raise ValueError(f"invalid WebAssembly module: {first}") from None
    imports = [(imp.module, imp.name or "", _kind(imp.type)) for imp in module.imports]
    exports: dict[str, str] = {}
    funcs: dict[str, tuple[list[str], list[str]]] = {}
    for exp in module.exports:
        exports[exp.name] = _kind(exp.type)
        if isinstance(exp.type, wasmtime.FuncType):
            funcs[exp.name] = ([str(p) for p in exp.type.params], [str(r) for r in exp.type.results])
    return ModuleInfo(imports, exports, funcs)


def imports_wasi(data: bytes) -> bool:
    return inspect_module(data).wasi
