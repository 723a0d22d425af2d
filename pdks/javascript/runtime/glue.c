/*
 * The JavaScript PDK runtime: QuickJS-ng embedded in an Extism plugin.
 *
 * On the first call the runtime creates one JS runtime and context, evaluates host.js (which
 * receives the native functions below and defines the global `Host`), then the plugin's script,
 * and looks up each export's function by name in the global scope. Every later call reuses them,
 * so globals survive between calls like the rest of the instance's memory.
 *
 * Kernel facts this file relies on: a zero-length block is offset 0; the kernel frees the blocks
 * passed to config_get, var_get, var_set, http_request and log_* itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glue.h"
#include "quickjs.h"

#include "extism-pdk.h" /* the kernel imports, declared once: pdks/c */

typedef ExtismHandle Block;

/** JS recursion deeper than this throws a catchable InternalError before the 1 MiB native stack
 * (the link's stack-size) could overflow and trap. */
#define JS_STACK_LIMIT (128 * 1024)

static JSRuntime *rt;
static JSContext *ctx;
static JSValue run_fn;       /* host.js's run(fn): undefined on success, else the error text */
static JSValue outcome_fn;   /* host.js's outcome(): the same, for a settled async export */
static JSValue pending;      /* host.js's marker: run() returned while a promise is pending */
static JSValue *export_fns;  /* the plugin's function for each export, or an exception value */
static char *init_error;     /* why start-up failed (reported by every call) */

/* ---- kernel blocks <-> bytes ---------------------------------------------------------------- */

static Block to_block(const uint8_t *data, size_t len) {
    return len ? extism_alloc_bytes(data, len) : 0;
}

/** Owns the malloc'd bytes behind the Uint8Arrays made here (size 0: free them). */
static void *buffer_realloc(JSRuntime *unused_rt, void *opaque, void *ptr, size_t size) {
    if (size) return realloc(ptr, size);
    free(ptr);
    return NULL;
}

/** A new Uint8Array of `len` bytes of kernel block `block`, or of the call's input when `block`
 * is 0 and `from_input` is set. */
static JSValue load_bytes(Block block, size_t len, bool from_input) {
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return JS_ThrowOutOfMemory(ctx);
    if (from_input)
        extism_input_read(buf, len);
    else
        extism_load(block, buf, len);
    return JS_NewUint8Array(ctx, buf, len, buffer_realloc, NULL, false);
}

/** A block's bytes as a Uint8Array (block 0 is empty); the block is not freed. */
static JSValue block_bytes(Block block) {
    return load_bytes(block, block ? extism_length(block) : 0, false);
}

/** A block's bytes, then the block freed; 0 (absent) gives null. */
static JSValue take_block_or_null(Block block) {
    if (!block) return JS_NULL;
    JSValue bytes = block_bytes(block);
    extism_free(block);
    return bytes;
}

/** The bytes of a Uint8Array argument (host.js normalises every value to one). */
static int arg_bytes(JSValueConst value, const uint8_t **data, size_t *len) {
    *data = JS_GetUint8Array(ctx, len, value);
    return *data ? 0 : -1;
}

static int arg_block(JSValueConst value, Block *block) {
    const uint8_t *data;
    size_t len;
    if (arg_bytes(value, &data, &len)) return -1;
    *block = to_block(data, len);
    return 0;
}

static int arg_u64(JSValueConst value, uint64_t *out) {
    int64_t v;
    if (JS_ToInt64Ext(ctx, &v, value)) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* ---- native functions handed to host.js ----------------------------------------------------- */

#define NATIVE(name) static JSValue name(JSContext *c, JSValueConst this_val, int argc, JSValueConst *argv)

NATIVE(n_input) {
    return load_bytes(0, extism_input_length(), true);
}

NATIVE(n_output) {
    const uint8_t *data;
    size_t len;
    if (arg_bytes(argv[0], &data, &len)) return JS_EXCEPTION;
    extism_output_set(to_block(data, len), len);
    return JS_UNDEFINED;
}

NATIVE(n_encode) { /* string -> UTF-8 Uint8Array */
    size_t len;
    const char *s = JS_ToCStringLen(c, &len, argv[0]);
    if (!s) return JS_EXCEPTION;
    JSValue bytes = JS_NewUint8ArrayCopy(c, (const uint8_t *)s, len);
    JS_FreeCString(c, s);
    return bytes;
}

NATIVE(n_decode) { /* UTF-8 Uint8Array -> string (ill-formed sequences become U+FFFD) */
    const uint8_t *data;
    size_t len;
    if (arg_bytes(argv[0], &data, &len)) return JS_EXCEPTION;
    return JS_NewStringLen(c, (const char *)data, len);
}

NATIVE(n_config_get) {
    Block key;
    if (arg_block(argv[0], &key)) return JS_EXCEPTION;
    return take_block_or_null(extism_config_get(key));
}

NATIVE(n_var_get) {
    Block key;
    if (arg_block(argv[0], &key)) return JS_EXCEPTION;
    return take_block_or_null(extism_var_get(key));
}

NATIVE(n_var_set) { /* value null (or empty) removes the var */
    Block key, value = 0;
    if (!JS_IsNull(argv[1]) && arg_block(argv[1], &value)) return JS_EXCEPTION;
    if (arg_block(argv[0], &key)) {
        if (value) extism_free(value);
        return JS_EXCEPTION;
    }
    extism_var_set(key, value);
    return JS_UNDEFINED;
}

NATIVE(n_log) { /* log(level 0..4 = trace..error, bytes) */
    static void (*const levels[])(Block) = {extism_log_trace, extism_log_debug, extism_log_info, extism_log_warn, extism_log_error};
    int32_t level;
    Block message;
    if (JS_ToInt32(c, &level, argv[0])) return JS_EXCEPTION;
    if (level < 0 || level > 4) return JS_ThrowRangeError(c, "log level %d", level);
    if (arg_block(argv[1], &message)) return JS_EXCEPTION;
    levels[level](message);
    return JS_UNDEFINED;
}

NATIVE(n_http) { /* http(request JSON bytes, body bytes | null) -> [status, body bytes] */
    Block request, body = 0;
    if (!JS_IsNull(argv[1]) && arg_block(argv[1], &body)) return JS_EXCEPTION;
    if (arg_block(argv[0], &request)) {
        if (body) extism_free(body);
        return JS_EXCEPTION;
    }
    Block response = extism_http_request(request, body);
    JSValue bytes = take_block_or_null(response);
    if (JS_IsException(bytes)) return bytes;
    if (JS_IsNull(bytes)) bytes = JS_NewUint8ArrayCopy(c, NULL, 0);
    JSValue result = JS_NewArray(c);
    JS_SetPropertyUint32(c, result, 0, JS_NewInt32(c, extism_http_status_code()));
    JS_SetPropertyUint32(c, result, 1, bytes);
    return result;
}

NATIVE(n_alloc) {
    Block block;
    if (arg_block(argv[0], &block)) return JS_EXCEPTION;
    return JS_NewBigUint64(c, block);
}

NATIVE(n_read) {
    uint64_t block;
    if (arg_u64(argv[0], &block)) return JS_EXCEPTION;
    return block_bytes(block);
}

NATIVE(n_free) {
    uint64_t block;
    if (arg_u64(argv[0], &block)) return JS_EXCEPTION;
    if (block) extism_free(block);
    return JS_UNDEFINED;
}

NATIVE(n_host_index) { /* hostIndex(module, name) -> index into extism_js_host_fns, or -1 */
    const char *module = JS_ToCString(c, argv[0]);
    const char *name = module ? JS_ToCString(c, argv[1]) : NULL;
    int found = -1;
    for (size_t i = 0; name && i < extism_js_host_fn_count; i++)
        if (!strcmp(extism_js_host_fns[i].module, module) && !strcmp(extism_js_host_fns[i].name, name))
            found = (int)i;
    JS_FreeCString(c, module);
    JS_FreeCString(c, name);
    if (!name) return JS_EXCEPTION;
    JSValue info = JS_NewArray(c);
    JS_SetPropertyUint32(c, info, 0, JS_NewInt32(c, found));
    JS_SetPropertyUint32(c, info, 1, JS_NewInt32(c, found < 0 ? 0 : extism_js_host_fns[found].params));
    JS_SetPropertyUint32(c, info, 2, JS_NewInt32(c, found < 0 ? 0 : extism_js_host_fns[found].results));
    return info;
}

NATIVE(n_host_call) { /* hostCall(index, ...i64 args) -> BigInt result, or undefined */
    int32_t index;
    uint64_t args[EXTISM_JS_MAX_HOST_PARAMS] = {0};
    if (JS_ToInt32(c, &index, argv[0])) return JS_EXCEPTION;
    if (index < 0 || (size_t)index >= extism_js_host_fn_count) return JS_ThrowRangeError(c, "no host function %d", index);
    const ExtismJsHostFn *fn = &extism_js_host_fns[index];
    if (argc - 1 != fn->params) return JS_ThrowTypeError(c, "%s takes %d arguments", fn->name, fn->params);
    for (int i = 0; i < fn->params; i++)
        if (arg_u64(argv[i + 1], &args[i])) return JS_EXCEPTION;
    uint64_t result = fn->call(args);
    return fn->results ? JS_NewBigUint64(c, result) : JS_UNDEFINED;
}

NATIVE(n_trap) { __builtin_trap(); }

static const JSCFunctionListEntry natives[] = {
    JS_CFUNC_DEF("input", 0, n_input),
    JS_CFUNC_DEF("output", 1, n_output),
    JS_CFUNC_DEF("encode", 1, n_encode),
    JS_CFUNC_DEF("decode", 1, n_decode),
    JS_CFUNC_DEF("configGet", 1, n_config_get),
    JS_CFUNC_DEF("varGet", 1, n_var_get),
    JS_CFUNC_DEF("varSet", 2, n_var_set),
    JS_CFUNC_DEF("log", 2, n_log),
    JS_CFUNC_DEF("http", 2, n_http),
    JS_CFUNC_DEF("alloc", 1, n_alloc),
    JS_CFUNC_DEF("read", 1, n_read),
    JS_CFUNC_DEF("free", 1, n_free),
    JS_CFUNC_DEF("hostIndex", 2, n_host_index),
    JS_CFUNC_DEF("hostCall", 1, n_host_call),
    JS_CFUNC_DEF("trap", 0, n_trap),
};

/* ---- start-up and calls --------------------------------------------------------------------- */

static void set_error(const char *message, size_t len) { extism_error_set(to_block((const uint8_t *)message, len)); }

/** The pending exception as text, for failures outside host.js's own error handling. */
static char *exception_text(void) {
    JSValue exc = JS_GetException(ctx);
    size_t len;
    const char *s = JS_ToCStringLen(ctx, &len, exc);
    char *copy = strdup(s ? s : "InternalError: an exception that cannot be converted to text");
    if (s) JS_FreeCString(ctx, s);
    JS_FreeValue(ctx, exc);
    return copy;
}

static char *start(void) {
    rt = JS_NewRuntime();
    ctx = rt ? JS_NewContext(rt) : NULL;
    if (!ctx) return strdup("InternalError: cannot create the JavaScript runtime (out of memory)");
    JS_SetMaxStackSize(rt, JS_STACK_LIMIT);

    JSValue setup = JS_Eval(ctx, extism_js_prelude, extism_js_prelude_len, "host.js", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(setup)) return exception_text();
    JSValue native = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, native, natives, sizeof natives / sizeof natives[0]);
    JSValue api = JS_Call(ctx, setup, JS_UNDEFINED, 1, (JSValueConst[]){native});
    JS_FreeValue(ctx, setup);
    JS_FreeValue(ctx, native);
    if (JS_IsException(api)) return exception_text();
    run_fn = JS_GetPropertyStr(ctx, api, "run");
    outcome_fn = JS_GetPropertyStr(ctx, api, "outcome");
    pending = JS_GetPropertyStr(ctx, api, "pending");
    JS_FreeValue(ctx, api);

    JSValue script = JS_Eval(ctx, extism_js_source, extism_js_source_len, extism_js_source_name, JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(script)) return exception_text();
    JS_FreeValue(ctx, script);

    /* Evaluating the bare name finds `function f` and top-level `const f = …` alike. */
    export_fns = calloc(extism_js_export_count ? extism_js_export_count : 1, sizeof *export_fns);
    for (size_t i = 0; i < extism_js_export_count; i++) {
        const char *name = extism_js_exports[i];
        export_fns[i] = JS_Eval(ctx, name, strlen(name), "<export>", JS_EVAL_TYPE_GLOBAL);
        if (JS_IsException(export_fns[i])) JS_FreeValue(ctx, JS_GetException(ctx));
    }
    return NULL;
}

/** Report run()/outcome()'s answer: undefined is success, a string is the error. */
static int32_t finish(JSValue result) {
    if (JS_IsException(result)) {
        char *text = exception_text();
        set_error(text, strlen(text));
        free(text);
        return 1;
    }
    if (JS_IsUndefined(result)) return 0;
    size_t len;
    const char *s = JS_ToCStringLen(ctx, &len, result);
    JS_FreeValue(ctx, result);
    if (!s) return finish(JS_EXCEPTION);
    set_error(s, len);
    JS_FreeCString(ctx, s);
    return 1;
}

int32_t extism_js_call(size_t index) {
    if (!ctx && !init_error) init_error = start();
    if (init_error) {
        set_error(init_error, strlen(init_error));
        return 1;
    }
    JS_UpdateStackTop(rt);
    JSValue fn = export_fns[index];
    if (!JS_IsFunction(ctx, fn)) {
        const char *name = extism_js_exports[index];
        const char *fmt = "TypeError: %s defines no function %s";
        size_t len = strlen(fmt) + strlen(extism_js_source_name) + strlen(name);
        char *text = malloc(len);
        if (!text) __builtin_trap();
        int n = snprintf(text, len, fmt, extism_js_source_name, name);
        set_error(text, (size_t)n);
        free(text);
        return 1;
    }
    JSValue result = JS_Call(ctx, run_fn, JS_UNDEFINED, 1, (JSValueConst[]){fn});
    if (JS_IsStrictEqual(ctx, result, pending)) {
        /* An async export: run the promise jobs until none is left, then ask for its outcome. */
        JSContext *job_ctx;
        while (JS_ExecutePendingJob(rt, &job_ctx) > 0) {
        }
        result = JS_Call(ctx, outcome_fn, JS_UNDEFINED, 0, NULL);
    }
    return finish(result);
}
