"""`extism-plugin init`: render `templates/_common` + `templates/<lang>` into a new project.

Files ending in `.j2` are jinja2 templates (rendered with StrictUndefined, the suffix dropped);
other files are copied as they are. A language folder's file replaces a `_common` file of the same
path. Nothing is written unless everything renders, and an existing non-empty directory is never
overwritten.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2

from hatch_extism.errors import ExtismPlatformError
from hatch_extism.paths import pdk_dir, templates_dir
from hatch_extism.toolchains import DRIVERS

NAME_RE = re.compile(r"^(@[a-z0-9]([a-z0-9-]*[a-z0-9])?/)?[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")
REQUIREMENT_ENV = "EXTISM_PLATFORM_REQUIREMENT"


class InitError(ExtismPlatformError):
    pass


def template_languages() -> list[str]:
    root = templates_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")) if root.is_dir() else []


def platform_requirement() -> str:
    """The build requirement that makes `hatch build` find this platform in its isolated env.

    extism-platform is not on PyPI: point at the installed distribution's source (an editable or
    local install records it in direct_url.json), or at `$EXTISM_PLATFORM_REQUIREMENT`."""
    if os.environ.get(REQUIREMENT_ENV):
        return os.environ[REQUIREMENT_ENV]
    try:
        dist = metadata.distribution("extism-platform")
    except metadata.PackageNotFoundError:
        dist = None
    direct = dist.read_text("direct_url.json") if dist else None
    if direct:
        url = json.loads(direct).get("url", "")
        if url.startswith("file://"):
            return f"extism-platform @ {url}"
    source_root = Path(__file__).resolve().parent.parent
    if (source_root / "pyproject.toml").is_file() and (source_root / "hatch_extism").is_dir():
        return f"extism-platform @ {source_root.as_uri()}"
    raise InitError(
        "cannot tell where extism-platform can be installed from inside hatch's build environment; "
        f"set {REQUIREMENT_ENV} (e.g. 'extism-platform @ file:///path/to/extism_platform-0.1.0-py3-none-any.whl')"
    )


@dataclass(frozen=True)
class InitResult:
    directory: Path
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "files": self.files}


def context_for(name: str, language: str, description: str | None) -> dict[str, Any]:
    scope = name[1:].split("/", 1)[0] if name.startswith("@") else None
    bare = name.split("/", 1)[-1]
    folded = f"{scope}-{bare}" if scope else name
    return {
        "name": name,
        "scope": scope,
        "bare_name": bare,
        "folded_name": folded,
        "ident": folded.replace("-", "_"),
        "language": language,
        "description": description or f"The {bare} plugin",
        "version": "0.1.0",
        "platform_requirement": platform_requirement(),
        "pdk_dir": str(pdk_dir(language)),
    }


def init_project(
    name: str, language: str, directory: Path | None = None, description: str | None = None, *, force: bool = False
) -> InitResult:
    if not NAME_RE.match(name) or len(name) > 64:
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
    return InitResult(target, written)
