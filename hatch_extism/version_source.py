"""`[tool.hatch.version] source = "extism"`: the version lives in plugin.yaml.

`hatch version` prints it; `hatch version minor` / `hatch version 1.4.0` rewrite the `version:`
line of plugin.yaml in place (comments and layout kept).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.version.source.plugin.interface import VersionSourceInterface

from hatch_extism.files import atomic_write_text
from hatch_extism.manifest import load_manifest, validate
from hatch_extism.yaml_load import load_yaml

_VERSION_LINE = re.compile(r"^(version:\s*)([\"']?)([^\"'\s#]+)([\"']?)(.*)$", re.M)


class ExtismVersionSource(VersionSourceInterface):
    PLUGIN_NAME = "extism"

    @property
    def manifest_path(self) -> Path:
        return Path(self.root) / self.config.get("manifest", "plugin.yaml")

    def get_version_data(self) -> dict[str, Any]:
        return {"version": load_manifest(self.manifest_path).version}

    def set_version(self, version: str, version_data: dict[str, Any]) -> None:
        path = self.manifest_path
        text = path.read_text(encoding="utf-8")
        new, count = _VERSION_LINE.subn(lambda m: f"{m[1]}{m[2]}{version}{m[4]}{m[5]}", text, count=1)
        if count != 1:
            raise ValueError(f"{path}: no top-level `version:` line to update")
        validate(load_yaml(new, path.name), path.name)  # never write an invalid plugin.yaml
        atomic_write_text(path, new)
