"""The Ruby driver's own pieces: what it reads from a plugin's source, and the export filter it
applies to the merged module (checked on a real module from wasmtime's wat2wasm)."""

from __future__ import annotations

import wasmtime

from hatch_extism.toolchains.c_codegen import HostImport, declared_host_functions
from hatch_extism.toolchains.ruby import _MAX_HOST_PARAMS, _plugin_c, _top_level_methods, keep_exports
from plugin_format.wasm import inspect_module

SOURCE = """\
KV = Extism.host_function("extism:host/user", "kv_get")
LOG = Extism.host_function('extism:host/user', 'log_it', 2, 0)

def greet
  "hi"
end

def _private_helper; end

class Helper
  def not_an_export; end
end

def json_sum = 1
"""


def test_exports_are_top_level_public_defs_in_source_order() -> None:
    assert _top_level_methods(SOURCE) == ["greet", "json_sum"]


def _host_functions(text: str) -> list[HostImport]:
    return declared_host_functions(text, "Extism.host_function", _MAX_HOST_PARAMS)


def test_host_functions_are_read_with_their_arity() -> None:
    assert _host_functions(SOURCE) == [
        HostImport("extism:host/user", "kv_get", 1, 1),
        HostImport("extism:host/user", "log_it", 2, 0),
    ]


def test_generated_c_declares_each_export_and_import() -> None:
    c = _plugin_c(SOURCE.encode(), "src/plugin.rb", ["greet"], _host_functions(SOURCE))
    assert '__attribute__((export_name("greet"))) int32_t export_0(void) { return extism_rb_call(0); }' in c
    assert 'import_module("extism:host/user"), import_name("log_it"))) void import_1(uint64_t, uint64_t);' in c
    assert "extism_rb_host_fn_count = 2;" in c


def test_keep_exports_drops_the_others_and_keeps_the_module_valid() -> None:
    wat = """
    (module
      (memory (export "memory") 1)
      (memory (export "memory_1") 1)
      (func (export "_initialize"))
      (func (export "greet") (result i32) (i32.const 0))
      (func (export "extism_rb_initialize"))
      (func (export "ruby-init: func(args: list<string>) -> ()") (param i32 i32)))
    """
    module = wasmtime.wat2wasm(wat)
    kept = keep_exports(module, ["greet", "memory"], {"extism_rb_initialize": "_initialize"})
    exports = wasmtime.Module(wasmtime.Engine(), kept).exports  # still a valid module
    assert [e.name for e in exports] == ["memory", "greet", "_initialize"]
    assert inspect_module(kept).func_exports == {"greet": ([], ["i32"]), "_initialize": ([], [])}
