"""Zig driver: `zig build-exe` for wasm32-freestanding, with the PDK as the `extism` module.

The project's root file is `main.zig` (or `src/main.zig`); it imports the PDK with
`@import("extism")`. Exports are the source's `export fn`s (`-rdynamic` keeps them all), so
`request.exports` needs no flags here.
"""

from __future__ import annotations

from hatch_extism.data import pdk_dir
from hatch_extism.toolchains.base import BuildRequest
from hatch_extism.toolchains.zig_family import ZigFamilyToolchain
from plugin_format.errors import BuildError

OPT_MODES = {"small": "ReleaseSmall", "speed": "ReleaseFast", "debug": "Debug"}
ROOT_FILES = ("main.zig", "src/main.zig")


class ZigToolchain(ZigFamilyToolchain):
    language = "zig"

    def compile_args(self, request: BuildRequest) -> list[str]:
        debug = request.optimize == "debug"
        return [
            "build-exe",
            "-target",
            "wasm32-freestanding",
            "-O",
            OPT_MODES[request.optimize],
            "-fno-entry",
            "-rdynamic",
            # Debug info holds absolute source paths; release modules carry none (reproducible).
            *(() if debug else ("-fstrip",)),
            *request.extra_args,
            "--dep",
            "extism",
            f"-Mroot={_root_file(request)}",
            f"-Mextism={pdk_dir(self.language) / 'src' / 'extism.zig'}",
            f"-femit-bin={request.output}",
        ]


def _root_file(request: BuildRequest) -> str:
    """The root source, relative to the project (the build runs there)."""
    if request.sources:
        return str(request.sources[0])
    for name in ROOT_FILES:
        if (request.project_dir / name).is_file():
            return name
    raise BuildError(f"{request.project_dir}: no Zig root file ({' or '.join(ROOT_FILES)})")
