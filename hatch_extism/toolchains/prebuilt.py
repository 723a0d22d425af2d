"""Prebuilt driver: a module compiled elsewhere (an official Extism PDK, another build system)
packaged as a plugin, so it is checked, signed, published and served like any other.

plugin.yaml names the module with `build: {module: PATH}` (default `module.wasm`, beside
plugin.yaml); `extism-plugin import MODULE.wasm` writes such a project. "Building" is copying the
file after checking that it is a core module exporting what plugin.yaml declares; the build then
audits its imports and signs it on the same path as every other language. The module is part of
the project, so the source fingerprint (and `hatch build`'s reuse of dist/) covers it.
"""

from __future__ import annotations

from pathlib import Path

from hatch_extism.toolchains.base import (
    BuildRequest,
    BuildResult,
    Progress,
    Stopwatch,
    Toolchain,
    ToolchainStatus,
    _quiet,
    move_into_place,
)
from plugin_format.errors import BuildError
from plugin_format.wasm import inspect_module

DEFAULT_MODULE = "module.wasm"
VERSION = "1"  # of this driver's packaging (a copy): the module's own sha256 is in plugin.json


def module_path(request: BuildRequest) -> Path:
    """The module plugin.yaml's `build.module` names (plugin.yaml's loader confined it)."""
    base = request.manifest_dir or request.project_dir
    return base / str(request.settings.get("module") or DEFAULT_MODULE)


class PrebuiltToolchain(Toolchain):
    language = "prebuilt"
    install_hint = "nothing to install: the module is built already"

    def detect(self) -> ToolchainStatus:
        return ToolchainStatus(self.language, True, VERSION, "(copies build.module)", self.install_hint)

    def ensure_installed(self, progress: Progress = _quiet) -> None:
        return None

    def version(self) -> str:
        return f"prebuilt {VERSION}"

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        clock = Stopwatch()
        source = module_path(request)
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise BuildError(
                f"{source}: {exc.strerror} (plugin.yaml's build.module names the prebuilt module, "
                f"default {DEFAULT_MODULE})"
            ) from None
        try:
            info = inspect_module(data)
        except ValueError as exc:
            raise BuildError(f"{source}: {exc}") from None
        progress(f"{self.language}: packaging {source.name} ({len(data):,} bytes)")
        request.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = request.output.with_name(request.output.name + ".tmp")
        tmp.write_bytes(data)
        move_into_place(
            tmp,
            request,
            compiler=self.language,
            what=f"{source.name}",
            hint="import the module again, or remove the export from plugin.yaml",
        )
        return BuildResult(
            wasm=request.output,
            wasi=info.wasi,
            toolchain="prebuilt",
            toolchain_version=VERSION,
            seconds=clock.seconds,
        )
