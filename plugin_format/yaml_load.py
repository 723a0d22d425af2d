"""The one YAML loader for the files users write (plugin.yaml, extism.yaml): safe, and bounded.

`yaml.safe_load` alone builds whatever a file describes: a 1.7 KB file of nested aliases (a "billion
laughs") expands to hundreds of MB once serialised, and 3000 levels of nesting end in a raw
`RecursionError`. This loader counts, while composing, how many nodes the document has with every alias
expanded (linear work: each node's expanded size is computed once, from its children), and refuses a
file past `MAX_BYTES`, `MAX_DEPTH` or `MAX_NODES` with one line naming the file, the field and the limit.
Aliases stay allowed within those bounds (a schema reused by two exports is fine).
"""

from __future__ import annotations

from typing import Any

import yaml

from plugin_format.errors import YamlLimitError

MAX_BYTES = 1024 * 1024  # far beyond any hand-written plugin.yaml / extism.yaml
MAX_DEPTH = 64  # nesting levels (mappings and lists)
MAX_NODES = 100_000  # scalars, mappings and lists, with every alias expanded


def _field(path: list[Any]) -> str:
    parts = [p for p in path if p is not None]
    out = ""
    for p in parts[:8]:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return (out + ("…" if len(parts) > 8 else "")) or "(top level)"


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream: str, where: str) -> None:
        super().__init__(stream)
        self._where = where
        self._path: list[Any] = []
        self._expanded: dict[int, int] = {}  # id(node) -> its size with aliases expanded

    def _limit(self, mark: Any, what: str) -> YamlLimitError:
        line = f" (line {mark.line + 1})" if mark is not None else ""
        return YamlLimitError(f"{self._where}: {_field(self._path)}{line}: {what}")

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node: Any = super().compose_node(parent, index)
            if id(node) not in self._expanded:
                raise self._limit(mark, "an alias to a node that contains it (endless); write the value out")
            return node
        # the field being composed: a mapping value's key, a list position, None for keys and the root
        self._path.append(index.value if isinstance(index, yaml.ScalarNode) else index)
        if len(self._path) > MAX_DEPTH:
            raise self._limit(self.peek_event().start_mark, f"nested deeper than {MAX_DEPTH} levels; flatten it")
        node = super().compose_node(parent, index)
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._expanded[id(c)] for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._expanded[id(k)] + self._expanded[id(v)] for k, v in node.value)
        else:
            size = 1
        if size > MAX_NODES:
            raise self._limit(
                node.start_mark,
                f"more than {MAX_NODES:,} values once its aliases (*name) are expanded (an alias bomb?); "
                "write the file without nested aliases",
            )
        self._expanded[id(node)] = size
        self._path.pop()
        return node


def load_yaml(text: str, where: str) -> Any:
    """Parse one YAML document like `yaml.safe_load`, within the limits above; `where` names the file
    in errors. Raises `YamlLimitError` past a limit, `yaml.YAMLError` for invalid YAML."""
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise YamlLimitError(f"{where}: {size:,} bytes; at most {MAX_BYTES:,} are read (is this the right file?)")
    loader = _BoundedLoader(text, where)
    try:
        return loader.get_single_data()
    except RecursionError:  # a last guard: the depth limit should make this unreachable
        raise YamlLimitError(f"{where}: nested too deeply; flatten it") from None
    finally:
        loader.dispose()
