/*
 * The JavaScript PDK runtime's interface to the per-plugin C file the build generates
 * (hatch_extism/toolchains/javascript.py): the plugin's JavaScript source, its exports and the
 * host functions it declared with `Host.hostFunction(module, name, params, results)`.
 */
#ifndef EXTISM_JS_GLUE_H
#define EXTISM_JS_GLUE_H

#include <stddef.h>
#include <stdint.h>

/** A host function import: every parameter and the result (if any) is an i64. */
typedef struct {
    const char *module;
    const char *name;
    int params;  /* 0 … EXTISM_JS_MAX_HOST_PARAMS */
    int results; /* 0 or 1 */
    uint64_t (*call)(const uint64_t *args);
} ExtismJsHostFn;

#define EXTISM_JS_MAX_HOST_PARAMS 8

/* Provided by the generated file. */
extern const char extism_js_prelude[];  /* runtime/host.js */
extern const size_t extism_js_prelude_len;
extern const char extism_js_source[];   /* the plugin's script */
extern const size_t extism_js_source_len;
extern const char extism_js_source_name[];
extern const char *const extism_js_exports[];
extern const size_t extism_js_export_count;
extern const ExtismJsHostFn extism_js_host_fns[];
extern const size_t extism_js_host_fn_count;

/** Run export number `index` (of extism_js_exports): 0 on success, 1 after error_set. */
int32_t extism_js_call(size_t index);

#endif
