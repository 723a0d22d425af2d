/*
 * The Ruby PDK runtime: ruby.wasm (the prebuilt CRuby 3.4 engine from npm) driven from an
 * Extism export.
 *
 * The engine is a finished module, not a library: it exports `ruby-init` and
 * `rb-eval-string-protect` (wit-bindgen's canonical ABI) and talks to the outside world only
 * through the `rb-js-abi-host` imports its `JS` extension (`require "js.so"`) uses. This file
 * *is* that `rb-js-abi-host` module: a tiny object world in which `JS.global` has one function
 * property per kernel operation (`extism_input`, `extism_output`, `extism_var_get`, …), every
 * value is a string of bytes, `undefined`/`null`/`true`/`false`, or a function. The PDK prelude
 * (pdks/ruby/lib/extism.rb) wraps them in the `Extism` module. wasm-merge fuses the engine,
 * this glue and bridge.wat into one module: the engine's imports become direct calls.
 *
 * The glue has its own linear memory (memory 1 after the merge); bytes cross to Ruby's memory
 * (memory 0) with bridge.wat's `memory.copy`s, and to the kernel with the C PDK's helpers.
 * Nothing here calls WASI: wasmtime's WASI reads the exported `memory`, which is Ruby's.
 *
 * Kernel facts this file relies on: a zero-length block is offset 0; the kernel frees the blocks
 * passed to config_get, var_get, var_set, http_request and log_* itself.
 */
#include "glue.h"

#include "extism-pdk.h" /* the kernel imports and a freestanding allocator: pdks/c */

typedef ExtismHandle Block;

/* ---- the engine's exports and bridge.wat ---------------------------------------------------- */

#define RUBY(name) __attribute__((import_module("ruby"), import_name(name)))
#define BRIDGE(name) __attribute__((import_module("canonical_abi"), import_name(name)))

RUBY("_initialize") void ruby_initialize(void);
RUBY("cabi_realloc") uint32_t ruby_realloc(uint32_t ptr, uint32_t old_size, uint32_t align, uint32_t size);
RUBY("ruby-init: func(args: list<string>) -> ()") void ruby_init(uint32_t args, uint32_t count);
RUBY("rb-eval-string-protect: func(str: string) -> tuple<handle<rb-abi-value>, s32>")
uint32_t ruby_eval(uint32_t str, uint32_t len);
RUBY("canonical_abi_drop_rb-abi-value") void ruby_drop(uint32_t value);
RUBY("rb-errinfo: func() -> handle<rb-abi-value>") uint32_t ruby_errinfo(void);
RUBY("rb-clear-errinfo: func() -> ()") void ruby_clear_errinfo(void);
RUBY("rb-intern: func(name: string) -> u32") uint32_t ruby_intern(uint32_t name, uint32_t len);
RUBY("rb-funcallv-protect: func(recv: handle<rb-abi-value>, mid: u32, args: list<handle<rb-abi-value>>) -> "
     "tuple<handle<rb-abi-value>, s32>")
uint32_t ruby_funcall(uint32_t recv, uint32_t mid, uint32_t args, uint32_t argc);
RUBY("rstring-ptr: func(value: handle<rb-abi-value>) -> string") uint32_t ruby_rstring(uint32_t value);
RUBY("cabi_post_rstring-ptr") void ruby_rstring_free(uint32_t retptr);

BRIDGE("ruby_read") void ruby_read(void *dst, uint32_t src, uint32_t n);
BRIDGE("ruby_write") void ruby_write(uint32_t dst, const void *src, uint32_t n);

/** `n` bytes copied into fresh Ruby memory (the receiver frees them, as the canonical ABI says). */
static uint32_t ruby_bytes(const void *data, size_t n, size_t extra_nul) {
    uint32_t ptr = ruby_realloc(0, 0, 1, (uint32_t)(n + extra_nul ? n + extra_nul : 1));
    if (!ptr) __builtin_trap();
    if (n) ruby_write(ptr, data, (uint32_t)n);
    if (extra_nul) ruby_write(ptr + (uint32_t)n, "", 1);
    return ptr;
}

static void ruby_store_u32(uint32_t at, uint32_t value) { ruby_write(at, &value, 4); }

/* ---- JS values: a handle table ---------------------------------------------------------------- */

typedef enum {
    V_FREE,
    V_UNDEFINED,
    V_NULL,
    V_TRUE,
    V_FALSE,
    V_GLOBAL,
    V_FUNCTION,
    V_STRING,
    V_NUMBER,
    V_OPAQUE, /* a Ruby proc/object handed out (no JS can call it here) */
} Kind;

typedef struct {
    uint32_t kind;
    uint32_t next_free_or_fn; /* V_FUNCTION: its id; V_FREE: the next free slot */
    uint8_t *data;            /* V_STRING: the bytes (NUL-terminated for convenience) */
    size_t len;
    double number;
    int read_once; /* a function's result: its bytes are released once Ruby has copied them */
} Value;

static Value *values;
static uint32_t value_cap, free_slot;

static uint32_t new_value(Kind kind) {
    if (!free_slot) {
        uint32_t cap = value_cap ? value_cap * 2 : 256;
        Value *grown = extism_malloc(cap * sizeof *grown);
        if (!grown) __builtin_trap();
        if (values) extism_copy(grown, values, value_cap * sizeof *grown);
        extism_heap_free(values);
        for (uint32_t i = cap; i > (value_cap ? value_cap : 1); i--) { /* slot 0 is never used */
            grown[i - 1].kind = V_FREE;
            grown[i - 1].next_free_or_fn = free_slot;
            free_slot = i - 1;
        }
        values = grown;
        value_cap = cap;
    }
    uint32_t h = free_slot;
    free_slot = values[h].next_free_or_fn;
    values[h] = (Value){.kind = kind};
    return h;
}

static void release_bytes(Value *v) {
    if (v->kind != V_STRING) return;
    extism_heap_free(v->data);
    v->data = (uint8_t *)"";
    v->len = 0;
    v->kind = V_UNDEFINED;
}

static uint32_t new_string(const void *data, size_t len) {
    uint8_t *copy = extism_malloc(len + 1);
    if (!copy) __builtin_trap(); /* out of memory: a trap ends the call with an error */
    if (len) extism_copy(copy, data, len);
    copy[len] = 0;
    uint32_t h = new_value(V_STRING);
    values[h].data = copy;
    values[h].len = len;
    return h;
}

static uint32_t new_cstring(const char *s) { return new_string(s, extism_strlen(s)); }

/** A string value holding the bytes of kernel block `block` (0 → empty), which is then freed. */
static uint32_t take_block(Block block) {
    if (!block) return new_string("", 0);
    uint64_t n = extism_length(block);
    uint8_t *bytes = extism_malloc((size_t)n + 1);
    if (!bytes) __builtin_trap();
    extism_load(block, bytes, n);
    bytes[n] = 0;
    extism_free(block);
    uint32_t h = new_value(V_STRING);
    values[h].data = bytes;
    values[h].len = (size_t)n;
    return h;
}

static Value *get(uint32_t h) {
    if (h == 0 || h >= value_cap || values[h].kind == V_FREE) __builtin_trap(); /* the engine's bug */
    return &values[h];
}

__attribute__((export_name("extism_rb_drop_value"))) void drop_value(uint32_t h) {
    Value *v = get(h);
    if (v->kind == V_STRING) extism_heap_free(v->data);
    v->kind = V_FREE;
    v->data = 0;
    v->next_free_or_fn = free_slot;
    free_slot = h;
}

/** A string value as a fresh kernel block (0 when empty: the kernel's empty block). */
static Block to_block(const Value *v) { return v->len ? extism_alloc_bytes(v->data, v->len) : 0; }

static uint64_t parse_u64(const Value *v) {
    uint64_t n = 0;
    for (size_t i = 0; i < v->len && v->data[i] >= '0' && v->data[i] <= '9'; i++) n = n * 10 + (v->data[i] - '0');
    return n;
}

static uint32_t new_decimal(int64_t value) {
    char buf[24];
    int i = sizeof buf;
    uint64_t u = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    do buf[--i] = (char)('0' + u % 10);
    while (u /= 10);
    if (value < 0) buf[--i] = '-';
    return new_string(buf + i, sizeof buf - i);
}

/* ---- the functions JS.global offers (the PDK prelude's only way out) ---------------------- */

static int32_t call_failed; /* set by extism_error during a call */

static const char *const function_names[] = {
    "extism_input",        "extism_output", "extism_error",      "extism_config_get", "extism_var_get",
    "extism_var_set",      "extism_var_delete", "extism_log",    "extism_http_request", "extism_http_status",
    "extism_alloc",        "extism_read",   "extism_free",       "extism_host_index", "extism_host_call",
    "extism_source",       "extism_source_name", "extism_trap",
};
enum { FN_COUNT = sizeof function_names / sizeof function_names[0] };

typedef struct {
    uint32_t result; /* a value handle */
    int failed;      /* result is the error (a string) */
} Outcome;

static Outcome ok(uint32_t h) { return (Outcome){h, 0}; }
static Outcome fail(const char *message) { return (Outcome){new_cstring(message), 1}; }

static int str_eq(const uint8_t *a, size_t alen, const char *b) {
    size_t blen = extism_strlen(b);
    if (alen != blen) return 0;
    for (size_t i = 0; i < alen; i++)
        if (a[i] != (uint8_t)b[i]) return 0;
    return 1;
}

static Outcome apply(uint32_t fn, const Value *const *args, size_t argc) {
    static const uint32_t arity[FN_COUNT] = {0, 1, 1, 1, 1, 2, 1, 2, 2, 0, 1, 1, 1, 2, 1, 0, 0, 0};
    static void (*const log_levels[])(Block) = {extism_log_trace, extism_log_debug, extism_log_info,
                                                extism_log_warn, extism_log_error};
    if (fn != 14 && argc != arity[fn]) return fail("TypeError: wrong number of arguments to an Extism function");
    for (size_t i = 0; i < argc; i++)
        if (args[i]->kind != V_STRING) return fail("TypeError: Extism functions take strings");
    switch (fn) {
    case 0: { /* extism_input() -> bytes */
        uint64_t n = extism_input_length();
        uint8_t *bytes = extism_malloc((size_t)n + 1);
        if (!bytes) return fail("NoMemoryError: the input does not fit in memory");
        extism_input_read(bytes, n);
        bytes[n] = 0;
        uint32_t h = new_value(V_STRING);
        values[h].data = bytes;
        values[h].len = (size_t)n;
        return ok(h);
    }
    case 1: /* extism_output(bytes) */
        extism_output_set(to_block(args[0]), args[0]->len);
        return ok(new_value(V_UNDEFINED));
    case 2: /* extism_error(message): the call fails with it when the export returns */
        extism_error_set(args[0]->len ? to_block(args[0]) : extism_alloc_bytes("error", 5));
        call_failed = 1;
        return ok(new_value(V_UNDEFINED));
    case 3: { /* extism_config_get(key) -> bytes | undefined */
        Block value = extism_config_get(to_block(args[0]));
        return ok(value ? take_block(value) : new_value(V_UNDEFINED));
    }
    case 4: { /* extism_var_get(key) -> bytes | undefined */
        Block value = extism_var_get(to_block(args[0]));
        return ok(value ? take_block(value) : new_value(V_UNDEFINED));
    }
    case 5: /* extism_var_set(key, bytes): empty bytes are the kernel's "absent" */
        extism_var_set(to_block(args[0]), to_block(args[1]));
        return ok(new_value(V_UNDEFINED));
    case 6: /* extism_var_delete(key) */
        extism_var_set(to_block(args[0]), 0);
        return ok(new_value(V_UNDEFINED));
    case 7: { /* extism_log(level "0".."4", message) */
        uint64_t level = parse_u64(args[0]);
        if (level > 4) return fail("ArgumentError: log level must be 0..4");
        Block message = to_block(args[1]);
        if (message) log_levels[level](message);
        return ok(new_value(V_UNDEFINED));
    }
    case 8: { /* extism_http_request(request JSON, body) -> response body */
        Block body = to_block(args[1]);
        Block response = extism_http_request(to_block(args[0]), body);
        return ok(take_block(response));
    }
    case 9: /* extism_http_status() -> decimal */
        return ok(new_decimal(extism_http_status_code()));
    case 10: /* extism_alloc(bytes) -> decimal block offset (0 for empty) */
        return ok(new_decimal((int64_t)to_block(args[0])));
    case 11: { /* extism_read(offset) -> bytes of that block, not freed */
        Block block = parse_u64(args[0]);
        if (!block) return ok(new_string("", 0));
        uint64_t n = extism_length(block);
        uint8_t *bytes = extism_malloc((size_t)n + 1);
        if (!bytes) return fail("NoMemoryError: the block does not fit in memory");
        extism_load(block, bytes, n);
        bytes[n] = 0;
        uint32_t h = new_value(V_STRING);
        values[h].data = bytes;
        values[h].len = (size_t)n;
        return ok(h);
    }
    case 12: { /* extism_free(offset) */
        Block block = parse_u64(args[0]);
        if (block) extism_free(block);
        return ok(new_value(V_UNDEFINED));
    }
    case 13: /* extism_host_index(module, name) -> "index params results" | undefined */
        for (size_t i = 0; i < extism_rb_host_fn_count; i++) {
            const ExtismRbHostFn *h = &extism_rb_host_fns[i];
            if (str_eq(args[0]->data, args[0]->len, h->module) && str_eq(args[1]->data, args[1]->len, h->name)) {
                char text[32];
                int n = 0;
                uint32_t parts[3] = {(uint32_t)i, (uint32_t)h->params, (uint32_t)h->results};
                for (int p = 0; p < 3; p++) {
                    char digits[12];
                    int d = 0;
                    uint32_t u = parts[p];
                    do digits[d++] = (char)('0' + u % 10);
                    while (u /= 10);
                    while (d) text[n++] = digits[--d];
                    if (p < 2) text[n++] = ' ';
                }
                return ok(new_string(text, (size_t)n));
            }
        }
        return ok(new_value(V_UNDEFINED));
    case 14: { /* extism_host_call(index, i64 args as decimals…) -> decimal | undefined */
        if (argc < 1) return fail("TypeError: extism_host_call needs the function's index");
        uint64_t index = parse_u64(args[0]);
        if (index >= extism_rb_host_fn_count) return fail("ArgumentError: no such host function");
        const ExtismRbHostFn *h = &extism_rb_host_fns[index];
        if (argc - 1 != (size_t)h->params) return fail("ArgumentError: wrong number of host function arguments");
        uint64_t a[EXTISM_RB_MAX_HOST_PARAMS] = {0};
        for (int i = 0; i < h->params; i++) {
            const Value *v = args[i + 1];
            int neg = v->len && v->data[0] == '-';
            uint64_t u = 0;
            for (size_t j = neg; j < v->len && v->data[j] >= '0' && v->data[j] <= '9'; j++) u = u * 10 + (v->data[j] - '0');
            a[i] = neg ? (uint64_t)0 - u : u;
        }
        uint64_t result = h->call(a);
        return ok(h->results ? new_decimal((int64_t)result) : new_value(V_UNDEFINED));
    }
    case 15:
        return ok(new_string(extism_rb_source, extism_rb_source_len));
    case 16:
        return ok(new_cstring(extism_rb_source_name));
    case 17: /* extism_trap(): the language-level abort the contract's `trap` asks for */
        __builtin_trap();
    }
    return fail("TypeError: not a function");
}

/* ---- rb-js-abi-host: what the engine imports ---------------------------------------------- */

#define HOST(name) __attribute__((export_name(name)))
#define H "handle<js-abi-value>"
#define RESULT "variant { success(" H "), failure(" H ") }"

static void store_result(uint32_t retptr, Outcome o) {
    uint8_t tag = (uint8_t)o.failed;
    ruby_write(retptr, &tag, 1);
    ruby_store_u32(retptr + 4, o.result);
}

/** A string argument from Ruby's memory (borrowed by the call), as a temporary value. */
static uint32_t arg_string(uint32_t ptr, uint32_t len) {
    uint8_t *copy = extism_malloc((size_t)len + 1);
    if (!copy) __builtin_trap();
    if (len) ruby_read(copy, ptr, len);
    copy[len] = 0;
    uint32_t h = new_value(V_STRING);
    values[h].data = copy;
    values[h].len = len;
    return h;
}

/** Store a returned string: fresh Ruby memory that the engine frees. */
static void return_string(uint32_t retptr, const void *data, size_t len) {
    ruby_store_u32(retptr, ruby_bytes(data, len, 0));
    ruby_store_u32(retptr + 4, (uint32_t)len);
}

HOST("eval-js: func(code: string) -> " RESULT)
void js_eval(uint32_t code, uint32_t len, uint32_t retptr) {
    /* No JavaScript engine here: only the constants js.rb asks for are understood. */
    uint32_t src = arg_string(code, len);
    const Value *s = get(src);
    static const struct { const char *code; Kind kind; } known[] = {
        {"return undefined", V_UNDEFINED}, {"return null", V_NULL},   {"return true;", V_TRUE},
        {"return false;", V_FALSE},        {"return true", V_TRUE},   {"return false", V_FALSE},
    };
    Outcome o = fail("NotImplementedError: JS.eval has no JavaScript engine in an Extism plugin");
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (str_eq(s->data, s->len, known[i].code)) o = ok(new_value(known[i].kind));
    drop_value(src);
    store_result(retptr, o);
}

HOST("is-js: func(value: " H ") -> bool") int32_t js_is_js(uint32_t h) { return get(h)->kind != V_OPAQUE; }

HOST("instance-of: func(value: " H ", klass: " H ") -> bool") int32_t js_instance_of(uint32_t v, uint32_t k) {
    get(v);
    get(k);
    return 0;
}

HOST("global-this: func() -> " H) uint32_t js_global_this(void) { return new_value(V_GLOBAL); }

HOST("int-to-js-number: func(value: s32) -> " H) uint32_t js_int(int32_t value) {
    uint32_t h = new_value(V_NUMBER);
    values[h].number = value;
    return h;
}

HOST("float-to-js-number: func(value: float64) -> " H) uint32_t js_float(double value) {
    uint32_t h = new_value(V_NUMBER);
    values[h].number = value;
    return h;
}

HOST("string-to-js-string: func(value: string) -> " H) uint32_t js_string(uint32_t ptr, uint32_t len) {
    return arg_string(ptr, len);
}

HOST("bool-to-js-bool: func(value: bool) -> " H) uint32_t js_bool(int32_t value) {
    return new_value(value ? V_TRUE : V_FALSE);
}

HOST("proc-to-js-function: func(value: u32) -> " H) uint32_t js_proc(uint32_t value) {
    (void)value;
    return new_value(V_OPAQUE);
}

HOST("rb-object-to-js-rb-value: func(raw-rb-abi-value: u32) -> " H) uint32_t js_rb_value(uint32_t value) {
    (void)value;
    return new_value(V_OPAQUE);
}

/** JavaScript's String(value) for the kinds that exist here. */
static void text_of(const Value *v, const uint8_t **data, size_t *len) {
    static const char *const names[] = {"", "undefined", "null", "true", "false", "[object global]",
                                        "function () { [native code] }", "", "", "[object RbValue]"};
    if (v->kind == V_STRING) {
        *data = v->data;
        *len = v->len;
    } else if (v->kind == V_NUMBER) {
        *data = (const uint8_t *)"[number]"; /* numbers never reach Ruby as text in this PDK */
        *len = 8;
    } else {
        *data = (const uint8_t *)names[v->kind];
        *len = extism_strlen(names[v->kind]);
    }
}

HOST("js-value-to-string: func(value: " H ") -> string") void js_to_string(uint32_t h, uint32_t retptr) {
    const uint8_t *data;
    size_t len;
    Value *v = get(h);
    text_of(v, &data, &len);
    return_string(retptr, data, len);
    if (v->read_once) release_bytes(v);
}

HOST("js-value-to-integer: func(value: " H ") -> variant { as-float(float64), bignum(string) }")
void js_to_integer(uint32_t h, uint32_t retptr) {
    const Value *v = get(h);
    double number = v->kind == V_NUMBER ? v->number : v->kind == V_TRUE ? 1 : 0;
    uint8_t tag = 0;
    ruby_write(retptr, &tag, 1);
    ruby_write(retptr + 8, &number, 8);
}

HOST("export-js-value-to-host: func(value: " H ") -> ()") void js_export(uint32_t h) { get(h); }

HOST("import-js-value-from-host: func() -> " H) uint32_t js_import(void) { return new_value(V_UNDEFINED); }

HOST("js-value-typeof: func(value: " H ") -> string") void js_typeof(uint32_t h, uint32_t retptr) {
    static const char *const names[] = {"", "undefined", "object", "boolean", "boolean", "object",
                                        "function", "string", "number", "object"};
    const char *name = names[get(h)->kind];
    return_string(retptr, name, extism_strlen(name));
}

static int32_t equal(uint32_t a, uint32_t b) {
    const Value *x = get(a), *y = get(b);
    if (x->kind != y->kind) return 0;
    if (x->kind == V_STRING) return x->len == y->len && str_eq(x->data, x->len, (const char *)y->data);
    if (x->kind == V_NUMBER) return x->number == y->number;
    if (x->kind == V_FUNCTION) return x->next_free_or_fn == y->next_free_or_fn;
    return x->kind != V_OPAQUE;
}

HOST("js-value-equal: func(lhs: " H ", rhs: " H ") -> bool") int32_t js_equal(uint32_t a, uint32_t b) {
    return equal(a, b);
}

HOST("js-value-strictly-equal: func(lhs: " H ", rhs: " H ") -> bool")
int32_t js_strictly_equal(uint32_t a, uint32_t b) { return equal(a, b); }

HOST("reflect-apply: func(target: " H ", this-argument: " H ", arguments: list<" H ">) -> " RESULT)
void js_apply(uint32_t target, uint32_t self, uint32_t args, uint32_t argc, uint32_t retptr) {
    get(self);
    const Value *fn = get(target);
    if (fn->kind != V_FUNCTION) {
        store_result(retptr, fail("TypeError: not a function"));
        return;
    }
    const Value *argv[EXTISM_RB_MAX_HOST_PARAMS + 1];
    if (argc > EXTISM_RB_MAX_HOST_PARAMS + 1) {
        store_result(retptr, fail("ArgumentError: too many arguments"));
        return;
    }
    for (uint32_t i = 0; i < argc; i++) {
        uint32_t h;
        ruby_read(&h, args + 4 * i, 4);
        argv[i] = get(h);
    }
    Outcome o = apply(fn->next_free_or_fn, argv, argc);
    /* The prelude passes fresh strings and reads each result once, while Ruby frees the handles
     * only when its GC collects the JS::Object wrappers: release the bytes now, so a 16 MiB
     * input or output does not stay in this memory until then. */
    for (uint32_t i = 0; i < argc; i++) release_bytes((Value *)argv[i]);
    if (!o.failed && values[o.result].kind == V_STRING) values[o.result].read_once = 1;
    store_result(retptr, o);
}

HOST("reflect-get: func(target: " H ", property-key: string) -> " RESULT)
void js_get(uint32_t target, uint32_t key, uint32_t len, uint32_t retptr) {
    uint32_t name = arg_string(key, len);
    const Value *k = get(name);
    Outcome o = ok(new_value(V_UNDEFINED));
    if (get(target)->kind == V_GLOBAL) {
        for (uint32_t i = 0; i < FN_COUNT; i++)
            if (str_eq(k->data, k->len, function_names[i])) {
                values[o.result].kind = V_FUNCTION;
                values[o.result].next_free_or_fn = i;
            }
    } else if (get(target)->kind == V_STRING && str_eq(k->data, k->len, "length")) {
        values[o.result].kind = V_NUMBER;
        values[o.result].number = (double)get(target)->len;
    }
    drop_value(name);
    store_result(retptr, o);
}

HOST("reflect-set: func(target: " H ", property-key: string, value: " H ") -> " RESULT)
void js_set(uint32_t target, uint32_t key, uint32_t len, uint32_t value, uint32_t retptr) {
    (void)key;
    (void)len;
    get(target);
    get(value);
    store_result(retptr, fail("TypeError: JS objects are read-only in an Extism plugin"));
}

HOST("rb_wasm_throw_prohibit_rewind_exception")
void js_prohibit_rewind(uint32_t message, uint32_t len) {
    /* The engine cannot unwind here (a Fiber switch inside a kernel call): fail the call. */
    uint32_t h = arg_string(message, len);
    extism_error_set(to_block(get(h)));
    __builtin_trap();
}

/* ---- start-up and calls --------------------------------------------------------------------- */

static int started;
static const char *init_error; /* why the prelude could not be evaluated (reported by every call) */

/** Evaluate `code` (n bytes) at Ruby's top level; the `state` of rb_eval_string_protect. */
static int32_t eval(const char *code, size_t n) {
    uint32_t retptr = ruby_eval(ruby_bytes(code, n, 1), (uint32_t)n);
    uint32_t result[2];
    ruby_read(result, retptr, 8);
    ruby_drop(result[0]);
    return (int32_t)result[1];
}

/** "<context>: <the pending Ruby exception's full_message>" as a NUL-terminated string (for
 * failures outside Extism.__call's own rescue, e.g. a broken prelude); the exception is cleared. */
static char *errinfo_text(const char *context) {
    static const char method[] = "full_message";
    uint32_t exc = ruby_errinfo();
    uint32_t mid = ruby_intern(ruby_bytes(method, sizeof method - 1, 0), sizeof method - 1);
    uint32_t retptr = ruby_funcall(exc, mid, ruby_bytes("", 0, 0), 0);
    uint32_t result[2];
    ruby_read(result, retptr, 8);
    ExtismBuffer text = {0};
    extism_buffer_append_str(&text, context);
    if (result[1] == 0) {
        uint32_t str = ruby_rstring(result[0]);
        uint32_t ptr_len[2];
        ruby_read(ptr_len, str, 8);
        uint8_t *bytes = extism_malloc(ptr_len[1] + 1);
        if (bytes) {
            ruby_read(bytes, ptr_len[0], ptr_len[1]);
            extism_buffer_append_str(&text, ": ");
            extism_buffer_append(&text, bytes, ptr_len[1]);
            extism_heap_free(bytes);
        }
        ruby_rstring_free(str);
    }
    ruby_drop(result[0]);
    ruby_drop(exc);
    ruby_clear_errinfo();
    extism_buffer_append(&text, "", 1);
    return text.failed ? (char *)context : (char *)text.data;
}

static void start(void) {
    started = 1;
    ruby_initialize();
    /* argv as the ruby command line would have it (-e keeps the interpreter from reading stdin).
     * --disable-gems: loading RubyGems (and did_you_mean, error_highlight) at start-up is most of
     * the first call's cost, and a plugin cannot install gems anyway; the standard library is on
     * the load path without it. The engine hands the strings to C as `char *`s: each carries its NUL. */
    static const char *const argv[] = {"ruby.wasm", "-EUTF-8", "--disable-gems", "-e_=0"};
    enum { ARGC = sizeof argv / sizeof argv[0] };
    uint32_t list[2 * ARGC];
    for (int i = 0; i < ARGC; i++) {
        size_t n = extism_strlen(argv[i]);
        list[2 * i] = ruby_bytes(argv[i], n, 1);
        list[2 * i + 1] = (uint32_t)n + 1;
    }
    ruby_init(ruby_bytes(list, sizeof list, 0), ARGC);
    if (eval(extism_rb_prelude, extism_rb_prelude_len) != 0) {
        init_error = errinfo_text("the Ruby PDK prelude (extism.rb) failed to load");
        return;
    }
    /* Load the plugin's source now, so the first call finds it ready. A load error is kept by
     * the prelude and raised by every Extism.__call (with the file name and line). */
    static const char boot[] = "Extism.__boot";
    if (eval(boot, sizeof boot - 1) != 0) ruby_clear_errinfo();
}

/** The WASI reactor initializer: the build exports it as `_initialize`, which Extism runs once
 * before the first call and outside the call's timeout — the interpreter's start-up (~0.1–0.3 s)
 * is then not charged to the first call. Hosts that skip it get the same start-up on the first
 * call instead. */
__attribute__((export_name("extism_rb_initialize"))) void extism_rb_initialize(void) {
    if (!started) start();
}

int32_t extism_rb_call(size_t index) {
    if (!started) start();
    if (init_error) {
        extism_error_set(extism_alloc_bytes(init_error, extism_strlen(init_error)));
        return 1;
    }
    call_failed = 0;
    /* Extism.__call rescues every exception and reports it with extism_error. */
    const char *name = extism_rb_exports[index];
    static const char head[] = "Extism.__call(:";
    size_t n = extism_strlen(name);
    char *code = extism_malloc(sizeof head + n + 1);
    if (!code) __builtin_trap();
    extism_copy(code, head, sizeof head - 1);
    extism_copy(code + sizeof head - 1, name, n);
    code[sizeof head - 1 + n] = ')';
    int32_t state = eval(code, sizeof head + n);
    extism_heap_free(code);
    if (state != 0 && !call_failed) {
        static const char context[] = "the Ruby export raised past Extism.__call";
        char *text = errinfo_text(context);
        extism_error_set(extism_alloc_bytes(text, extism_strlen(text)));
        if (text != context) extism_heap_free(text);
        return 1;
    }
    return call_failed;
}

