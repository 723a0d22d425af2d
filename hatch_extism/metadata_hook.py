"""Fill `[project]` version, description and the `extism.plugins` entry point from plugin.yaml.

plugin.yaml is the one place to edit. `name` cannot be dynamic in Python packaging, so the hook
checks that `[project] name` is the plugin's folded name instead (`@acme/weather` → `acme-weather`).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

from plugin_format.manifest import load_manifest
from plugin_format.names import ENTRY_POINT_GROUP, python_package
from plugin_format.semver import Version, to_pep440


class ExtismMetadataHook(MetadataHookInterface):
    PLUGIN_NAME = "extism"

    @cached_property
    def manifest_path(self) -> Path:
        option = self.config.get("manifest", "plugin.yaml")
        if not isinstance(option, str):
            raise TypeError("Option 'manifest' for metadata hook 'extism' must be a string")
        return Path(self.root) / option

    def update(self, metadata: dict[str, Any]) -> None:
        manifest = load_manifest(self.manifest_path)
        name = metadata.get("name", "")
        want = manifest.folded_name
        if name.replace("_", "-").lower() != want:
            raise ValueError(
                f"pyproject.toml: [project] name is {name!r} but plugin.yaml's name {manifest.name!r} "
                f"needs it to be {want!r} (the name is plugin.yaml's; change one to match)"
            )
        dynamic = metadata.get("dynamic", [])
        if "version" in dynamic and "version" not in metadata:
            metadata["version"] = to_pep440(Version.parse(manifest.version))
        if "description" in dynamic:
            metadata["description"] = manifest.description
        if "entry-points" in dynamic:
            entry_points = dict(metadata.get("entry-points", {}))
            entry_points[ENTRY_POINT_GROUP] = {manifest.name: python_package(manifest.name)}
            metadata["entry-points"] = entry_points
