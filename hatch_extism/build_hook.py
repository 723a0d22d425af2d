"""The `extism` build hook: compile, check and sign the plugin as part of `hatch build`.

Writes `dist/<name>-<version>.{wasm,plugin.json,sig}` beside the wheel/sdist, and puts the three
files in the wheel as the package `extism_plugins.<name>` (registered under the `extism.plugins`
entry point by the metadata hook), so `pip install` is a distribution channel too.

Options (`[tool.hatch.build.hooks.extism]`):
  signing-key = "path/to/key"   # else $EXTISM_SIGNING_KEY (a path or the PEM itself)
  unsigned = true               # build without a signature, explicitly (or EXTISM_UNSIGNED=1)
  optimize = "small"            # small | speed | debug
  manifest = "plugin.yaml"
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

from hatch_extism.build import build_artifacts
from plugin_format import signing
from plugin_format.errors import ExtismPlatformError
from plugin_format.manifest import load_manifest
from plugin_format.names import python_package

OPTIMIZE = ("small", "speed", "debug")


class ExtismBuildHook(BuildHookInterface):
    PLUGIN_NAME = "extism"

    @cached_property
    def option_signing_key(self) -> str | None:
        value = self.config.get("signing-key")
        if value is not None and not isinstance(value, str):
            raise TypeError("Option 'signing-key' for build hook 'extism' must be a string (a path)")
        return value

    @cached_property
    def option_unsigned(self) -> bool:
        value = self.config.get("unsigned", False)
        if not isinstance(value, bool):
            raise TypeError("Option 'unsigned' for build hook 'extism' must be a boolean")
        return value

    @cached_property
    def option_optimize(self) -> str:
        value = self.config.get("optimize", "small")
        if value not in OPTIMIZE:
            raise TypeError(f"Option 'optimize' for build hook 'extism' must be one of {', '.join(OPTIMIZE)}")
        return value

    @cached_property
    def option_manifest(self) -> Path:
        value = self.config.get("manifest", "plugin.yaml")
        if not isinstance(value, str):
            raise TypeError("Option 'manifest' for build hook 'extism' must be a string")
        return Path(self.root) / value

    def signing_key(self):
        """The hook's `signing-key`, else the lookup every build shares (`signing.find_signing_key`)."""
        explicit = Path(self.root) / Path(self.option_signing_key).expanduser() if self.option_signing_key else None
        return signing.find_signing_key(
            explicit,
            unsigned=self.option_unsigned,
            explicit_option="`signing-key` under [tool.hatch.build.hooks.extism]",
        )

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        try:
            manifest = load_manifest(self.option_manifest)
        except ExtismPlatformError as exc:
            self.app.abort(f"[extism] error: {exc}")
            raise
        dist = Path(self.directory)

        def progress(message: str) -> None:
            self.app.display_info(f"[extism] {message}")

        try:
            artifacts = build_artifacts(
                manifest, dist, key=self.signing_key(), progress=progress, optimize=self.option_optimize, reuse=True
            )
        except ExtismPlatformError as exc:
            # One actionable message, not a traceback through hatch's internals.
            self.app.abort(f"[extism] error: {exc}")
            raise  # abort exits; this keeps type checkers honest
        files = (artifacts.wasm, artifacts.plugin_json, artifacts.sig)
        if self.target_name == "sdist":
            for f in files:
                build_data["force_include"][str(f)] = f"extism-artifacts/{f.name}"
            return
        package_dir = python_package(manifest.name).replace(".", "/")
        init = dist / f".{manifest.artifact_stem}.__init__.py"
        init.write_text(
            f'"""Extism plugin {manifest.name} {manifest.version}: its signed artifacts are beside this file."""\n\n'
            "from pathlib import Path\n\n"
            f"NAME = {manifest.name!r}\nVERSION = {manifest.version!r}\n"
            "HERE = Path(__file__).resolve().parent\n"
            f"WASM = HERE / {artifacts.wasm.name!r}\n"
            f"PLUGIN_JSON = HERE / {artifacts.plugin_json.name!r}\n"
            f"SIG = HERE / {artifacts.sig.name!r}\n",
            encoding="utf-8",
        )
        key = "force_include_editable" if version == "editable" else "force_include"
        build_data[key][str(init)] = f"{package_dir}/__init__.py"
        for f in files:
            build_data[key][str(f)] = f"{package_dir}/{f.name}"
        self._cleanup = init

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        leftover = getattr(self, "_cleanup", None)
        if leftover is not None:
            leftover.unlink(missing_ok=True)
