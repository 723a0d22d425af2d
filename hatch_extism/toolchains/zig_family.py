"""Shared driver base for the languages zig compiles: C, C++ and Zig itself."""

from __future__ import annotations

from hatch_extism.toolchains import zig_common
from hatch_extism.toolchains.base import (
    BuildRequest,
    BuildResult,
    Progress,
    Stopwatch,
    Toolchain,
    ToolchainStatus,
    _quiet,
)
from hatch_extism.toolchains.bom_readers import platform_pdk
from plugin_format import bom
from plugin_format.errors import BuildError
from plugin_format.wasm import imports_wasi


class ZigFamilyToolchain(Toolchain):
    """A driver whose compiler is `python -m ziglang …`; subclasses only build the argv."""

    install_hint = zig_common.INSTALL_HINT

    def detect(self) -> ToolchainStatus:
        where = zig_common.location()
        version = None
        if where:
            try:
                version = zig_common.zig_version()
            except Exception:  # a broken install is reported as not found, with the hint
                where = None
        return ToolchainStatus(self.language, where is not None, version, where, self.install_hint)

    def ensure_installed(self, progress: Progress = _quiet) -> None:
        zig_common.ensure_installed(progress)

    def version(self) -> str:
        return f"zig {zig_common.zig_version()}"

    def compile_args(self, request: BuildRequest) -> list[str]:
        """The arguments after `python -m ziglang` that turn the request into `request.output`."""
        raise NotImplementedError

    def build(self, request: BuildRequest, progress: Progress = _quiet) -> BuildResult:
        self.ensure_installed(progress)
        request.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = request.output.with_name(request.output.name + ".tmp")
        args = self.compile_args(_with_output(request, tmp))
        progress(f"{self.language}: compiling {request.project_dir}")
        clock = Stopwatch()
        log = zig_common.run_zig(*args, cwd=request.project_dir, what=f"{self.language} build", error=BuildError)
        if not tmp.is_file():
            raise BuildError(f"{self.language} build: the compiler reported success but wrote no {tmp.name}")
        tmp.replace(request.output)
        # zig leaves `<out>.o` beside some outputs; it is not part of the artifact.
        for junk in (tmp.with_suffix(".o"), tmp.with_name(tmp.name + ".o")):
            junk.unlink(missing_ok=True)
        data = request.output.read_bytes()
        return BuildResult(
            wasm=request.output,
            wasi=imports_wasi(data),
            toolchain="zig",
            toolchain_version=zig_common.zig_version(),
            seconds=clock.seconds,
            log=log,
            bom=self.bom(imports_wasi(data)),
        )

    def bom(self, wasi: bool) -> list[dict[str, str]]:
        """The PDK, and with WASI the C library zig links in (wasi-libc; libc++ for C++), which
        comes with PyPI's ziglang."""
        entries = [platform_pdk(self.language)]
        return [*entries, bom.entry("pypi", "ziglang", zig_common.zig_version())] if wasi else entries


def _with_output(request: BuildRequest, output) -> BuildRequest:
    from dataclasses import replace

    return replace(request, output=output)


def sources_or_glob(request: BuildRequest, *patterns: str) -> list[str]:
    """The request's sources, or every file matching `patterns` under the project (sorted, so
    the link order — and the module's bytes — never depends on the filesystem)."""
    if request.sources:
        return [str(s) for s in request.sources]
    found = sorted({p for pat in patterns for p in request.project_dir.rglob(pat)})
    if not found:
        raise BuildError(f"{request.project_dir}: no source files ({', '.join(patterns)})")
    return [str(p.relative_to(request.project_dir)) for p in found]
