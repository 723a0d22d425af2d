"""C driver: zig's clang, freestanding wasm32, no libc — the C PDK needs none.

Sources opting into wasi-libc can set `extra_args=["--target=wasm32-wasi", "-mexec-model=reactor"]`.
"""

from __future__ import annotations

from hatch_extism.data import pdk_dir
from hatch_extism.toolchains.base import BuildRequest
from hatch_extism.toolchains.zig_common import OPT_FLAGS
from hatch_extism.toolchains.zig_family import ZigFamilyToolchain, sources_or_glob


class CToolchain(ZigFamilyToolchain):
    language = "c"
    compiler = "cc"
    standard = "-std=c99"
    patterns: tuple[str, ...] = ("*.c",)
    base_flags: tuple[str, ...] = (
        "--target=wasm32-freestanding",
        "-nostdlib",
        "-Wl,--no-entry",
    )

    def compile_args(self, request: BuildRequest) -> list[str]:
        args = [
            self.compiler,
            *self.base_flags,
            self.standard,
            OPT_FLAGS[request.optimize],
            "-Wall",
            "-Werror=implicit-function-declaration",
            # Reproducible bytes: no absolute paths, no debug info, no build ids.
            "-g0",
            "-s",
            f"-ffile-prefix-map={request.project_dir}=.",
            "-I",
            str(pdk_dir(self.language)),
            # Exports come from EXTISM_EXPORT (export_name) in the sources.
            *request.extra_args,
            "-o",
            str(request.output),
            *sources_or_glob(request, *self.patterns),
        ]
        return args
