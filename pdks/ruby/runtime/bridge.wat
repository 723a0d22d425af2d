;; The Ruby PDK's bridge: the `canonical_abi` module ruby.wasm imports, and the two copies
;; between Ruby's linear memory and the glue's. wasm-merge fuses it with the engine and the
;; glue (hatch_extism/toolchains/ruby.py), so the copies become multi-memory `memory.copy`s.
(module
  (import "ruby" "memory" (memory $ruby 0))
  (import "rb-js-abi-host" "memory" (memory $glue 0))
  (import "rb-js-abi-host" "extism_rb_drop_value" (func $drop (param i32)))

  ;; JS values are the glue's handles; Ruby drops them when its JS::Object is collected.
  (func (export "resource_drop_js-abi-value") (param i32)
    (call $drop (local.get 0)))
  ;; rb-abi-value handles are Ruby's own: the identity mapping is all the engine needs.
  (func (export "resource_new_rb-abi-value") (param i32) (result i32) (local.get 0))
  (func (export "resource_get_rb-abi-value") (param i32) (result i32) (local.get 0))

  ;; ruby_read(glue_dst, ruby_src, n) / ruby_write(ruby_dst, glue_src, n)
  (func (export "ruby_read") (param i32 i32 i32)
    (memory.copy $glue $ruby (local.get 0) (local.get 1) (local.get 2)))
  (func (export "ruby_write") (param i32 i32 i32)
    (memory.copy $ruby $glue (local.get 0) (local.get 1) (local.get 2)))
)
