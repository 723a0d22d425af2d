"""`[tool.hatch.version] source = "extism"`, `scheme = "extism"`: the version lives in plugin.yaml,
and bumps follow semver.

`hatch version` prints plugin.yaml's version (in the Python-packaging spelling hatch needs:
`1.2.3-rc.1` → `1.2.3rc1`); `hatch version minor` / `patch` / `rc` / `prerelease` / `1.4.0`
rewrite the `version:` line of plugin.yaml in place (comments and layout kept), with npm's
`semver.inc` rules (`patch` of `1.2.3-rc.1` is `1.2.3`; `rc` of `1.2.3` is `1.2.4-rc.0`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.version.scheme.plugin.interface import VersionSchemeInterface
from hatchling.version.source.plugin.interface import VersionSourceInterface

from plugin_format.errors import SemverError
from plugin_format.files import atomic_write_text
from plugin_format.manifest import load_manifest, validate
from plugin_format.semver import BUMP_ALIASES, Version, bump, to_pep440
from plugin_format.yaml_load import load_yaml

_VERSION_LINE = re.compile(r"^(version:\s*)([\"']?)([^\"'\s#]+)([\"']?)(.*)$", re.M)


def _manifest_path(root: str, config: dict[str, Any]) -> Path:
    return Path(root) / config.get("manifest", "plugin.yaml")


class ExtismVersionSource(VersionSourceInterface):
    PLUGIN_NAME = "extism"

    @property
    def manifest_path(self) -> Path:
        return _manifest_path(self.root, self.config)

    def get_version_data(self) -> dict[str, Any]:
        semver = load_manifest(self.manifest_path).version
        return {"version": to_pep440(Version.parse(semver)), "semver": semver}

    def set_version(self, version: str, version_data: dict[str, Any]) -> None:
        path = self.manifest_path
        text = path.read_text(encoding="utf-8")
        new, count = _VERSION_LINE.subn(lambda m: f"{m[1]}{m[2]}{version}{m[4]}{m[5]}", text, count=1)
        if count != 1:
            raise ValueError(f"{path}: no top-level `version:` line to update")
        validate(load_yaml(new, path.name), path.name)  # never write an invalid plugin.yaml
        atomic_write_text(path, new)


class ExtismVersionScheme(VersionSchemeInterface):
    """Semver bumps for `hatch version`: one bump, a version, or `major|minor|patch,PREID`
    (`minor,rc` → the first rc of the next minor, as npm's `preminor --preid rc`)."""

    PLUGIN_NAME = "extism"

    def update(self, desired_version: str, original_version: str, version_data: dict[str, Any]) -> str:
        current = Version.parse(version_data.get("semver") or original_version)
        try:
            target = Version.parse(desired_version)
        except SemverError:
            parts = [p.strip() for p in desired_version.split(",")]
            alias = BUMP_ALIASES.get(parts[-1]) if len(parts) == 2 else None
            if parts[0] in ("major", "minor", "patch") and isinstance(alias, tuple):
                return str(bump(current, "pre" + parts[0], alias[1]))  # `minor,rc`: 1.2.3 → 1.3.0-rc.0
            target = current
            for part in parts:
                target = bump(target, part)
        else:
            if self.validate_bump and target <= current:
                raise ValueError(f"version {target} is not higher than the current {current}")
        return str(target)
