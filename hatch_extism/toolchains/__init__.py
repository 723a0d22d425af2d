"""Toolchain drivers, one module per language, looked up by the `language:` of plugin.yaml."""

from __future__ import annotations

import importlib

from hatch_extism.toolchains.base import BuildRequest, BuildResult, Toolchain, ToolchainStatus
from plugin_format.errors import ToolchainError

# language -> "module:Class"; imported lazily so one broken driver never hides the others.
DRIVERS: dict[str, str] = {
    "c": "hatch_extism.toolchains.c:CToolchain",
    "cpp": "hatch_extism.toolchains.cpp:CppToolchain",
    "zig": "hatch_extism.toolchains.zig:ZigToolchain",
    "go": "hatch_extism.toolchains.go:GoToolchain",
    "rust": "hatch_extism.toolchains.rust:RustToolchain",
    "typescript": "hatch_extism.toolchains.typescript:TypeScriptToolchain",
    "python": "hatch_extism.toolchains.python:PythonToolchain",
    "javascript": "hatch_extism.toolchains.javascript:JavaScriptToolchain",
    "kotlin": "hatch_extism.toolchains.kotlin:KotlinToolchain",
    "ruby": "hatch_extism.toolchains.ruby:RubyToolchain",
    "java": "hatch_extism.toolchains.java:JavaToolchain",
    "prebuilt": "hatch_extism.toolchains.prebuilt:PrebuiltToolchain",
}


def available_languages() -> list[str]:
    """Languages whose driver module is present in this installation."""
    langs = []
    for lang, target in DRIVERS.items():
        if importlib.util.find_spec(target.split(":")[0]) is not None:
            langs.append(lang)
    return langs


def get_toolchain(language: str) -> Toolchain:
    target = DRIVERS.get(language)
    if target is None:
        known = ", ".join(DRIVERS)
        raise ToolchainError(f"unknown language {language!r} (known: {known})")
    module_name, cls_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise ToolchainError(f"no toolchain driver for {language!r} in this installation") from None
        raise
    return getattr(module, cls_name)()


__all__ = [
    "DRIVERS",
    "BuildRequest",
    "BuildResult",
    "Toolchain",
    "ToolchainStatus",
    "available_languages",
    "get_toolchain",
]
