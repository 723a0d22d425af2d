"""`extism-plugin init`: render `templates/_common` + `templates/<lang>` into a new project.

Files ending in `.j2` are jinja2 templates (rendered with StrictUndefined, the suffix dropped);
other files are copied as they are. A language folder's file replaces a `_common` file of the same
path. Nothing is written unless everything renders, and an existing non-empty directory is never
overwritten.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2

from hatch_extism.data import PROJECT_LINK, link_pdk, templates_dir
from hatch_extism.toolchains import DRIVERS
from plugin_format import names
from plugin_format.errors import InitError


def template_languages() -> list[str]:
    root = templates_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")) if root.is_dir() else []


def platform_requirement() -> str:
    """The build requirement `hatch build` installs into its isolated environment: this platform
    by name and compatible version, never a path of the machine that ran `init`, so the project
    builds wherever extism-platform can be installed from (an index, or `PIP_FIND_LINKS` /
    `UV_FIND_LINKS` pointing at its wheel)."""
    try:
        version = metadata.version("extism-platform")
    except metadata.PackageNotFoundError:
        version = "0.1.0"
    major, minor = (version.split(".") + ["0"])[:2]
    return f"extism-platform>={major}.{minor}"


@dataclass(frozen=True)
class InitResult:
    directory: Path
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "files": self.files}


def context_for(name: str, language: str, description: str | None) -> dict[str, Any]:
    scope, bare = names.split(name)
    return {
        "name": name,
        "scope": scope,
        "bare_name": bare,
        "folded_name": names.fold(name),
        "ident": names.identifier(name),
        "language": language,
        "description": description or f"The {bare} plugin",
        "version": "0.1.0",
        "platform_requirement": platform_requirement(),
        "pdk_dir": PROJECT_LINK,  # relative: builds point it at the installed PDK
    }


def init_project(
    name: str, language: str, directory: Path | None = None, description: str | None = None, *, force: bool = False
) -> InitResult:
    if not names.is_valid(name):
        raise InitError(
            f"plugin name {name!r}: use [@scope/]name with lowercase letters, digits and '-', "
            "at most 64 characters (e.g. weather-tool or @acme/weather)"
        )
    if language not in DRIVERS:
        raise InitError(f"unknown language {language!r} (known: {', '.join(DRIVERS)})")
    langs = template_languages()
    if language not in langs:
        raise InitError(f"no project template for {language!r} yet (templates: {', '.join(langs) or 'none'})")
    ctx = context_for(name, language, description)
    target = (directory or Path(ctx["bare_name"])).resolve()
    if target.exists() and any(target.iterdir()) and not force:
        raise InitError(f"{target}: exists and is not empty (choose another --dir, or --force to write into it)")
    # The loader lets a language's template `{% extends %}` / `{% include %}` a `_common` one.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    sources: dict[str, Path] = {}
    for layer in (templates_dir() / "_common", templates_dir() / language):
        for path in sorted(layer.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith("_"):
                sources[str(path.relative_to(layer))] = path
    staging = Path(tempfile.mkdtemp(prefix=".extism-init-", dir=target.parent if target.parent.exists() else None))
    written = []
    try:
        for rel, path in sorted(sources.items()):
            out_rel = rel[:-3] if rel.endswith(".j2") else rel
            out = staging / out_rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if rel.endswith(".j2"):
                try:
                    text = env.get_template(path.relative_to(templates_dir()).as_posix()).render(**ctx)
                except jinja2.TemplateError as exc:
                    raise InitError(f"template {path}: {exc}") from None
                out.write_text(text, encoding="utf-8")
            else:
                shutil.copyfile(path, out)
            written.append(out_rel)
        target.mkdir(parents=True, exist_ok=True)
        for rel in written:
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    link_pdk(target, language)  # editors resolve the PDK at once; builds keep the link current
    return InitResult(target, written)
