/*
 * The Ruby PDK runtime's interface to the per-plugin C file the build generates
 * (hatch_extism/toolchains/ruby.py): the PDK prelude, the plugin's Ruby source, its exports and
 * the host functions it declared with `Extism.host_function("module", "name", params, results)`.
 */
#ifndef EXTISM_RB_GLUE_H
#define EXTISM_RB_GLUE_H

#include <stddef.h>
#include <stdint.h>

/** A host function import: every parameter and the result (if any) is an i64. */
typedef struct {
    const char *module;
    const char *name;
    int params;  /* 0 … EXTISM_RB_MAX_HOST_PARAMS */
    int results; /* 0 or 1 */
    uint64_t (*call)(const uint64_t *args);
} ExtismRbHostFn;

#define EXTISM_RB_MAX_HOST_PARAMS 8

/* Provided by the generated file. */
extern const char extism_rb_prelude[]; /* pdks/ruby/lib/extism.rb, NUL-terminated */
extern const size_t extism_rb_prelude_len;
extern const char extism_rb_source[]; /* the plugin's Ruby source */
extern const size_t extism_rb_source_len;
extern const char extism_rb_source_name[];
extern const char *const extism_rb_exports[];
extern const size_t extism_rb_export_count;
extern const ExtismRbHostFn extism_rb_host_fns[];
extern const size_t extism_rb_host_fn_count;

/** Run export number `index` (of extism_rb_exports): 0 on success, 1 after error_set. */
int32_t extism_rb_call(size_t index);

#endif
