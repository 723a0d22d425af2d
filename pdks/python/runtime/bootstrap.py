"""Make the modules bundled as source importable (run once per instance, at start-up).

The build bundles the plugin's own modules and `extism_pdk` as source text (compiled here, on
first import) and the standard library as frozen bytecode (found by CPython's FrozenImporter).
This importer sits just before the frozen one, so a plugin module shadows a same-named
standard-library module, as a script's directory does in ordinary Python.
"""

import sys
from _frozen_importlib import FrozenImporter, ModuleSpec

import _extism


class BundleImporter:
    """Meta-path finder and loader for `_extism.sources()`: {name: (filename, source, is_package)}."""

    def __init__(self, sources):
        self._sources = sources

    def find_spec(self, name, path=None, target=None):
        entry = self._sources.get(name)
        if entry is None:
            return None
        filename, _, is_package = entry
        spec = ModuleSpec(name, self, origin=filename, is_package=is_package)
        spec.has_location = True
        return spec

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module):
        filename, source, _ = self._sources[module.__spec__.name]
        exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)

    def get_source(self, name):
        """Lets tracebacks and `inspect` show the bundled source."""
        return self._sources[name][1].decode("utf-8")


sys.meta_path.insert(sys.meta_path.index(FrozenImporter), BundleImporter(_extism.sources()))
