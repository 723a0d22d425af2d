/*
 * extism-pdk.h — the extism-platform C Plugin Development Kit.
 *
 * One header, C99, no libc: compile with
 *   python -m ziglang cc --target=wasm32-freestanding -nostdlib -Wl,--no-entry -Oz plugin.c
 * (or `extism-plugin build`). Every function is `static`, so including it in several translation
 * units is fine; each unit gets its own small heap carved out with `memory.grow`.
 *
 * Two kinds of memory meet here: the plugin's own linear memory (ordinary C pointers) and the
 * Extism kernel's memory, addressed by `ExtismHandle` offsets. Input, output, config, vars, HTTP
 * bodies and host-function arguments live in kernel memory; the helpers below move bytes between
 * the two, eight at a time.
 *
 * Ownership (measured on runtime 1.41): the kernel frees the blocks passed to config_get,
 * var_get, var_set, http_request and log_* itself — never free them after those calls. Blocks
 * returned by config_get, var_get and http_request belong to the caller. A zero-length block is
 * represented by handle 0, so an empty config value or var reads as "not set".
 */
#ifndef EXTISM_PDK_H
#define EXTISM_PDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every helper is `static` (header-only) and marked unused so unused ones cost nothing. */
#define EXTISM_API static __attribute__((unused))

/** An offset of a block in kernel memory; 0 means "no block". */
typedef uint64_t ExtismHandle;

/** Declare an import from the Extism kernel. */
#define EXTISM_IMPORT_ENV(name) __attribute__((import_module("extism:host/env"), import_name(name)))
/** Declare a user host function, e.g.
 *  `EXTISM_IMPORT_USER("kv_get") ExtismHandle kv_get(ExtismHandle key);` */
#define EXTISM_IMPORT_USER(name) __attribute__((import_module("extism:host/user"), import_name(name)))
/** Export a plugin function: `EXTISM_EXPORT("greet") int32_t greet(void) { … return 0; }`. */
#define EXTISM_EXPORT(name) __attribute__((export_name(name))) __attribute__((used))

/* ---- the kernel ABI (module "extism:host/env"), every pointer/length an i64 ---- */
EXTISM_IMPORT_ENV("input_length") uint64_t extism_input_length(void);
EXTISM_IMPORT_ENV("input_load_u8") uint8_t extism_input_load_u8(uint64_t offset);
EXTISM_IMPORT_ENV("input_load_u64") uint64_t extism_input_load_u64(uint64_t offset);
EXTISM_IMPORT_ENV("alloc") ExtismHandle extism_alloc(uint64_t length);
EXTISM_IMPORT_ENV("free") void extism_free(ExtismHandle block);
EXTISM_IMPORT_ENV("length") uint64_t extism_length(ExtismHandle block);
EXTISM_IMPORT_ENV("load_u8") uint8_t extism_load_u8(uint64_t offset);
EXTISM_IMPORT_ENV("load_u64") uint64_t extism_load_u64(uint64_t offset);
EXTISM_IMPORT_ENV("store_u8") void extism_store_u8(uint64_t offset, uint8_t value);
EXTISM_IMPORT_ENV("store_u64") void extism_store_u64(uint64_t offset, uint64_t value);
EXTISM_IMPORT_ENV("output_set") void extism_output_set(ExtismHandle block, uint64_t length);
EXTISM_IMPORT_ENV("error_set") void extism_error_set(ExtismHandle block);
EXTISM_IMPORT_ENV("config_get") ExtismHandle extism_config_get(ExtismHandle key);
EXTISM_IMPORT_ENV("var_get") ExtismHandle extism_var_get(ExtismHandle key);
EXTISM_IMPORT_ENV("var_set") void extism_var_set(ExtismHandle key, ExtismHandle value);
EXTISM_IMPORT_ENV("http_request") ExtismHandle extism_http_request(ExtismHandle request, ExtismHandle body);
EXTISM_IMPORT_ENV("http_status_code") int32_t extism_http_status_code(void);
/* The last response's headers as a JSON object block, 0 when not handed over (see below). */
EXTISM_IMPORT_ENV("http_headers") ExtismHandle extism_http_headers(void);
EXTISM_IMPORT_ENV("log_trace") void extism_log_trace(ExtismHandle message);
EXTISM_IMPORT_ENV("log_debug") void extism_log_debug(ExtismHandle message);
EXTISM_IMPORT_ENV("log_info") void extism_log_info(ExtismHandle message);
EXTISM_IMPORT_ENV("log_warn") void extism_log_warn(ExtismHandle message);
EXTISM_IMPORT_ENV("log_error") void extism_log_error(ExtismHandle message);
EXTISM_IMPORT_ENV("get_log_level") int32_t extism_get_log_level(void);

/* ---- plugin memory: a small heap, so no libc is needed ---------------------------------- */

/*
 * Power-of-two size classes with one free list each. Blocks come from `memory.grow`, never
 * from memory the compiler laid out, so several translation units' heaps cannot overlap.
 * Waste is at most 2x, reuse is exact and O(1) — plenty for plugins, whose calls are short.
 */
#define EXTISM__HEAP_CLASSES 48
#define EXTISM__HEAP_HEADER 16 /* keeps payloads 16-byte aligned */

static void *extism__heap_free_lists[EXTISM__HEAP_CLASSES];
static uint8_t *extism__heap_cursor;
static uint8_t *extism__heap_end;

EXTISM_API unsigned extism__size_class(size_t total) {
    unsigned c = 5; /* 32 bytes minimum */
    while (((size_t)1 << c) < total) c++;
    return c;
}

/** Allocate `size` bytes of plugin memory (16-byte aligned); NULL when memory cannot grow. */
EXTISM_API void *extism_malloc(size_t size) {
    if (size > ((size_t)1 << 30)) return NULL;
    unsigned c = extism__size_class(size + EXTISM__HEAP_HEADER);
    uint8_t *block = (uint8_t *)extism__heap_free_lists[c];
    if (block) {
        extism__heap_free_lists[c] = *(void **)(block + EXTISM__HEAP_HEADER);
    } else {
        size_t need = (size_t)1 << c;
        if ((size_t)(extism__heap_end - extism__heap_cursor) < need) {
            size_t pages = (need + 65535) / 65536;
            size_t old = __builtin_wasm_memory_grow(0, pages);
            if (old == (size_t)-1) return NULL;
            uint8_t *fresh = (uint8_t *)(old * 65536);
            /* Contiguous with the previous region? Then keep the tail; else start over. */
            if (fresh != extism__heap_end) extism__heap_cursor = fresh;
            extism__heap_end = fresh + pages * 65536;
        }
        block = extism__heap_cursor;
        extism__heap_cursor += need;
    }
    *(uint32_t *)block = c;
    return block + EXTISM__HEAP_HEADER;
}

/** Return memory from `extism_malloc`. NULL is ignored. */
EXTISM_API void extism_heap_free(void *ptr) {
    if (!ptr) return;
    uint8_t *block = (uint8_t *)ptr - EXTISM__HEAP_HEADER;
    unsigned c = *(uint32_t *)block;
    *(void **)ptr = extism__heap_free_lists[c];
    extism__heap_free_lists[c] = block;
}

/** Copy `n` bytes (no libc memcpy here). */
EXTISM_API void extism_copy(void *dst, const void *src, size_t n) {
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    for (size_t i = 0; i < n; i++) d[i] = s[i];
}

/** Length of a NUL-terminated string. */
EXTISM_API size_t extism_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* ---- moving bytes between plugin and kernel memory ------------------------------------- */

/** Copy `n` bytes of kernel block `src` into plugin memory `dst`. */
EXTISM_API void extism_load(ExtismHandle src, void *dst, uint64_t n) {
    uint8_t *d = (uint8_t *)dst;
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word = extism_load_u64(src + i);
        __builtin_memcpy(d + i, &word, 8); /* one unaligned 8-byte store */
    }
    for (; i < n; i++) d[i] = extism_load_u8(src + i);
}

/** Copy `n` bytes of plugin memory `src` into kernel block `dst`. */
EXTISM_API void extism_store(ExtismHandle dst, const void *src, uint64_t n) {
    const uint8_t *s = (const uint8_t *)src;
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        __builtin_memcpy(&word, s + i, 8);
        extism_store_u64(dst + i, word);
    }
    for (; i < n; i++) extism_store_u8(dst + i, s[i]);
}

/** A new kernel block holding a copy of `data`. */
EXTISM_API ExtismHandle extism_alloc_bytes(const void *data, uint64_t n) {
    ExtismHandle h = extism_alloc(n);
    extism_store(h, data, n);
    return h;
}

/** A new kernel block holding `s` (without its NUL). */
EXTISM_API ExtismHandle extism_alloc_string(const char *s) {
    return extism_alloc_bytes(s, extism_strlen(s));
}

/** Copy a kernel block into fresh plugin memory, NUL-terminated (so text can be used as a C
 *  string). Sets `*len` (if given) to the block's length. NULL when `h` is 0 or memory is out. */
EXTISM_API uint8_t *extism_load_block(ExtismHandle h, uint64_t *len) {
    if (h == 0) return NULL;
    uint64_t n = extism_length(h);
    uint8_t *buf = (uint8_t *)extism_malloc((size_t)n + 1);
    if (!buf) return NULL;
    extism_load(h, buf, n);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* ---- input and output ---------------------------------------------------------------------- */

/** Copy up to `cap` bytes of the input into `dst`; returns how many were copied. */
EXTISM_API uint64_t extism_input_read(void *dst, uint64_t cap) {
    uint64_t n = extism_input_length();
    if (n > cap) n = cap;
    uint8_t *d = (uint8_t *)dst;
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word = extism_input_load_u64(i);
        __builtin_memcpy(d + i, &word, 8); /* one unaligned 8-byte store */
    }
    for (; i < n; i++) d[i] = extism_input_load_u8(i);
    return n;
}

/** The whole input in fresh plugin memory, NUL-terminated; `*len` gets its length.
 *  NULL only when memory is exhausted. Release with `extism_heap_free`. */
EXTISM_API uint8_t *extism_input(uint64_t *len) {
    uint64_t n = extism_input_length();
    uint8_t *buf = (uint8_t *)extism_malloc((size_t)n + 1);
    if (!buf) return NULL;
    extism_input_read(buf, n);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/** Set the call's output to a copy of `data`. */
EXTISM_API void extism_output(const void *data, uint64_t n) {
    extism_output_set(extism_alloc_bytes(data, n), n);
}

/** Set the call's output to the text `s`. */
EXTISM_API void extism_output_str(const char *s) {
    extism_output(s, extism_strlen(s));
}

/** Set the call's output to an existing kernel block (no copy). */
EXTISM_API void extism_output_handle(ExtismHandle h) {
    extism_output_set(h, extism_length(h));
}

/* ---- errors ----------------------------------------------------------------------------------- */

/** Set the call's error message; returns 1 so an export can `return extism_error("…");`. */
EXTISM_API int32_t extism_error(const char *message) {
    extism_error_set(extism_alloc_string(message));
    return 1;
}

/** Like `extism_error`, for a message that is not NUL-terminated. */
EXTISM_API int32_t extism_error_bytes(const void *message, uint64_t n) {
    extism_error_set(extism_alloc_bytes(message, n));
    return 1;
}

/* ---- config and vars ---------------------------------------------------------------------- */

/** The config value for `key` (NUL-terminated, in plugin memory) or NULL when it is not set.
 *  `*len` (if given) gets its length. Release with `extism_heap_free`. */
EXTISM_API char *extism_config(const char *key, uint64_t *len) {
    ExtismHandle v = extism_config_get(extism_alloc_string(key));
    char *value = (char *)extism_load_block(v, len);
    if (v) extism_free(v);
    return value;
}

/** The var `key` (bytes, NUL-terminated for convenience) or NULL when it is not set. */
EXTISM_API uint8_t *extism_var(const char *key, uint64_t *len) {
    ExtismHandle v = extism_var_get(extism_alloc_string(key));
    uint8_t *value = extism_load_block(v, len);
    if (v) extism_free(v);
    return value;
}

/** Store var `key` = `value` (`n` bytes). Vars live as long as the plugin instance. */
EXTISM_API void extism_var_put(const char *key, const void *value, uint64_t n) {
    extism_var_set(extism_alloc_string(key), extism_alloc_bytes(value, n));
}

/** Remove var `key`. */
EXTISM_API void extism_var_remove(const char *key) {
    extism_var_set(extism_alloc_string(key), 0);
}

/* ---- logging ---------------------------------------------------------------------------------- */

typedef enum {
    EXTISM_LOG_TRACE,
    EXTISM_LOG_DEBUG,
    EXTISM_LOG_INFO,
    EXTISM_LOG_WARN,
    EXTISM_LOG_ERROR,
} ExtismLogLevel;

/** Log `n` bytes of `message` at `level`. */
EXTISM_API void extism_log(ExtismLogLevel level, const char *message, uint64_t n) {
    ExtismHandle h = extism_alloc_bytes(message, n);
    switch (level) {
        case EXTISM_LOG_TRACE: extism_log_trace(h); break;
        case EXTISM_LOG_DEBUG: extism_log_debug(h); break;
        case EXTISM_LOG_INFO: extism_log_info(h); break;
        case EXTISM_LOG_WARN: extism_log_warn(h); break;
        case EXTISM_LOG_ERROR: extism_log_error(h); break;
    }
}

/** Log the text `message` at `level`. */
EXTISM_API void extism_log_str(ExtismLogLevel level, const char *message) {
    extism_log(level, message, extism_strlen(message));
}

/* ---- a growable byte buffer (used for JSON; handy for outputs) -------------------------------- */

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; /* set once an allocation failed; later appends are ignored */
} ExtismBuffer;

/** Append `n` bytes. */
EXTISM_API void extism_buffer_append(ExtismBuffer *b, const void *data, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n) cap *= 2;
        uint8_t *grown = (uint8_t *)extism_malloc(cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        extism_copy(grown, b->data, b->len);
        extism_heap_free(b->data);
        b->data = grown;
        b->cap = cap;
    }
    extism_copy(b->data + b->len, data, n);
    b->len += n;
}

/** Append a NUL-terminated string. */
EXTISM_API void extism_buffer_append_str(ExtismBuffer *b, const char *s) {
    extism_buffer_append(b, s, extism_strlen(s));
}

/** Append a signed integer in decimal. */
EXTISM_API void extism_buffer_append_int(ExtismBuffer *b, int64_t v) {
    char digits[24];
    int i = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[i++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) digits[i++] = '-';
    while (i) extism_buffer_append(b, &digits[--i], 1);
}

/** Append `n` bytes of UTF-8 text as a JSON string literal, quotes included. NUL bytes are
 *  allowed (they become `\u0000`); bytes >= 0x80 are copied as they are. */
EXTISM_API void extism_buffer_append_json_bytes(ExtismBuffer *b, const void *text, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)text;
    extism_buffer_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\') {
            char esc[2] = {'\\', (char)p[i]};
            extism_buffer_append(b, esc, 2);
        } else if (p[i] < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15]};
            extism_buffer_append(b, esc, 6);
        } else {
            extism_buffer_append(b, &p[i], 1);
        }
    }
    extism_buffer_append(b, "\"", 1);
}

/** Append the NUL-terminated `s` as a JSON string literal, quotes included. */
EXTISM_API void extism_buffer_append_json_string(ExtismBuffer *b, const char *s) {
    extism_buffer_append_json_bytes(b, s, extism_strlen(s));
}

/** Release the buffer's memory. */
EXTISM_API void extism_buffer_free(ExtismBuffer *b) {
    extism_heap_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- reading JSON: one member of an object ------------------------------------------------------ */

/*
 * Just enough JSON for a plugin's input, `{"name": "Ada", "options": {…}}`: find one member of the
 * top-level object and decode it if it is a string. The whole text is checked against RFC 8259
 * (nested values are validated and skipped, up to EXTISM_JSON_MAX_DEPTH levels), so malformed
 * input is reported as such rather than half-read. Keys are compared after decoding their escapes;
 * with duplicate keys the last one wins, as in most JSON parsers. Strings must be well-formed UTF-8,
 * so a decoded string always is (a lone `\uD800`-style surrogate escape decodes to U+FFFD). No
 * allocation except the decoded string.
 *
 *   char *name; size_t name_len;
 *   switch (extism_json_get_string(in, n, "name", &name, &name_len)) {
 *       case EXTISM_JSON_OK: break;                                  // use name, then extism_heap_free(name)
 *       case EXTISM_JSON_MISSING: return extism_error("missing \"name\"");
 *       case EXTISM_JSON_WRONG_TYPE: return extism_error("\"name\" must be a string");
 *       case EXTISM_JSON_INVALID: return extism_error("the input is not a JSON object");
 *       case EXTISM_JSON_NO_MEMORY: return extism_error("out of memory");
 *   }
 */

typedef enum {
    EXTISM_JSON_OK = 0,
    EXTISM_JSON_MISSING,    /* the object has no member with that key */
    EXTISM_JSON_WRONG_TYPE, /* the member (or value) is there but is not a string */
    EXTISM_JSON_INVALID,    /* the text is not one well-formed JSON object (or value) */
    EXTISM_JSON_NO_MEMORY,  /* the decoded string could not be allocated */
} ExtismJsonStatus;

/** How deeply arrays and objects may nest inside the top-level object (each level is a C call). */
#define EXTISM_JSON_MAX_DEPTH 128

EXTISM_API void extism__json_space(const uint8_t **p, const uint8_t *end) {
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')) (*p)++;
}

/* Four hex digits at `p` (bounded by `end`) → *out; false if they are not there. */
EXTISM_API bool extism__json_hex4(const uint8_t *p, const uint8_t *end, uint32_t *out) {
    if (end - p < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        uint32_t digit;
        if (c >= '0' && c <= '9') digit = c - '0';
        else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        else return false;
        v = v << 4 | digit;
    }
    *out = v;
    return true;
}

/* Decode one character of a string literal's body at *p into `utf8`, advancing *p. Returns its
 * length in bytes (1–4), 0 at the closing quote (consumed), -1 when the text is malformed (end of
 * text, a raw control character, a bad escape, ill-formed UTF-8). `\uXXXX` surrogate pairs become
 * one 4-byte character; a lone surrogate, which has no UTF-8 form, becomes U+FFFD. */
EXTISM_API int extism__json_char(const uint8_t **p, const uint8_t *end, uint8_t utf8[4]) {
    if (*p >= end) return -1;
    uint8_t c = *(*p)++;
    if (c == '"') return 0;
    if (c < 0x20) return -1;
    if (c >= 0x80) { /* a UTF-8 sequence: only well-formed ones (no overlongs, surrogates or > U+10FFFF) */
        int n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (n == 0 || end - *p < n - 1) return -1;
        uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        uint8_t hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        utf8[0] = c;
        for (int i = 1; i < n; i++) {
            uint8_t next = (*p)[i - 1];
            if (next < lo || next > hi) return -1;
            utf8[i] = next;
            lo = 0x80;
            hi = 0xBF;
        }
        *p += n - 1;
        return n;
    }
    if (c != '\\') {
        utf8[0] = c;
        return 1;
    }
    if (*p >= end) return -1;
    c = *(*p)++;
    switch (c) {
        case '"': case '\\': case '/': utf8[0] = c; return 1;
        case 'b': utf8[0] = '\b'; return 1;
        case 'f': utf8[0] = '\f'; return 1;
        case 'n': utf8[0] = '\n'; return 1;
        case 'r': utf8[0] = '\r'; return 1;
        case 't': utf8[0] = '\t'; return 1;
        case 'u': break;
        default: return -1;
    }
    uint32_t cp, low;
    if (!extism__json_hex4(*p, end, &cp)) return -1;
    *p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - *p >= 6 && (*p)[0] == '\\' && (*p)[1] == 'u' &&
        extism__json_hex4(*p + 2, end, &low) && low >= 0xDC00 && low <= 0xDFFF) {
        *p += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    if (cp < 0x80) {
        utf8[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        utf8[0] = (uint8_t)(0xC0 | cp >> 6);
        utf8[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        utf8[0] = (uint8_t)(0xE0 | cp >> 12);
        utf8[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        utf8[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    utf8[0] = (uint8_t)(0xF0 | cp >> 18);
    utf8[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    utf8[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    utf8[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Skip a string literal whose opening quote is at *p. */
EXTISM_API bool extism__json_skip_string(const uint8_t **p, const uint8_t *end) {
    uint8_t scratch[4];
    int r;
    (*p)++;
    while ((r = extism__json_char(p, end, scratch)) > 0) {
    }
    return r == 0;
}

EXTISM_API bool extism__json_skip_digits(const uint8_t **p, const uint8_t *end) {
    const uint8_t *start = *p;
    while (*p < end && **p >= '0' && **p <= '9') (*p)++;
    return *p > start;
}

/* Skip a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
EXTISM_API bool extism__json_skip_number(const uint8_t **p, const uint8_t *end) {
    if (*p < end && **p == '-') (*p)++;
    if (*p < end && **p == '0') (*p)++;
    else if (!extism__json_skip_digits(p, end)) return false;
    if (*p < end && **p == '.') {
        (*p)++;
        if (!extism__json_skip_digits(p, end)) return false;
    }
    if (*p < end && (**p == 'e' || **p == 'E')) {
        (*p)++;
        if (*p < end && (**p == '+' || **p == '-')) (*p)++;
        if (!extism__json_skip_digits(p, end)) return false;
    }
    return true;
}

EXTISM_API bool extism__json_skip_word(const uint8_t **p, const uint8_t *end, const char *word) {
    for (; *word; word++, (*p)++)
        if (*p >= end || **p != (uint8_t)*word) return false;
    return true;
}

/* Skip any value (after whitespace), validating it; `depth` counts the enclosing containers. */
EXTISM_API bool extism__json_skip_value(const uint8_t **p, const uint8_t *end, int depth) {
    extism__json_space(p, end);
    if (*p >= end) return false;
    switch (**p) {
        case '"': return extism__json_skip_string(p, end);
        case 't': return extism__json_skip_word(p, end, "true");
        case 'f': return extism__json_skip_word(p, end, "false");
        case 'n': return extism__json_skip_word(p, end, "null");
        case '{':
        case '[': {
            const uint8_t close = **p == '{' ? '}' : ']';
            if (depth >= EXTISM_JSON_MAX_DEPTH) return false;
            (*p)++;
            extism__json_space(p, end);
            if (*p < end && **p == close) {
                (*p)++;
                return true;
            }
            for (;;) {
                if (close == '}') { /* a member: "key" : value */
                    extism__json_space(p, end);
                    if (*p >= end || **p != '"' || !extism__json_skip_string(p, end)) return false;
                    extism__json_space(p, end);
                    if (*p >= end || **p != ':') return false;
                    (*p)++;
                }
                if (!extism__json_skip_value(p, end, depth + 1)) return false;
                extism__json_space(p, end);
                if (*p >= end) return false;
                if (**p == ',') {
                    (*p)++;
                    continue;
                }
                if (**p != close) return false;
                (*p)++;
                return true;
            }
        }
        default: return extism__json_skip_number(p, end);
    }
}

/** Find member `key` of the JSON object in `json` (`n` bytes; the whole text must be one object).
 *  On EXTISM_JSON_OK, `*value`/`*value_len` span the member's value as written (no surrounding
 *  whitespace), e.g. to hand to `extism_json_string`. Otherwise EXTISM_JSON_MISSING or
 *  EXTISM_JSON_INVALID. */
EXTISM_API ExtismJsonStatus extism_json_member(const void *json, size_t n, const char *key,
                                              const uint8_t **value, size_t *value_len) {
    const uint8_t *p = (const uint8_t *)json, *end = p + n;
    const uint8_t *found = NULL, *found_end = NULL;
    extism__json_space(&p, end);
    if (p >= end || *p != '{') return EXTISM_JSON_INVALID;
    p++;
    extism__json_space(&p, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            extism__json_space(&p, end);
            if (p >= end || *p != '"') return EXTISM_JSON_INVALID;
            p++;
            /* Compare the key with `key` while decoding it: no allocation. */
            const char *k = key;
            bool same = true;
            uint8_t ch[4];
            int r;
            while ((r = extism__json_char(&p, end, ch)) > 0) {
                for (int i = 0; i < r; i++) {
                    if (same && *k && (uint8_t)*k == ch[i]) k++;
                    else same = false;
                }
            }
            if (r < 0) return EXTISM_JSON_INVALID;
            same = same && *k == 0;
            extism__json_space(&p, end);
            if (p >= end || *p != ':') return EXTISM_JSON_INVALID;
            p++;
            extism__json_space(&p, end);
            const uint8_t *start = p;
            if (!extism__json_skip_value(&p, end, 1)) return EXTISM_JSON_INVALID;
            if (same) { /* the last of duplicate keys wins */
                found = start;
                found_end = p;
            }
            extism__json_space(&p, end);
            if (p >= end) return EXTISM_JSON_INVALID;
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p != '}') return EXTISM_JSON_INVALID;
            p++;
            break;
        }
    }
    extism__json_space(&p, end);
    if (p != end) return EXTISM_JSON_INVALID;
    if (!found) return EXTISM_JSON_MISSING;
    *value = found;
    *value_len = (size_t)(found_end - found);
    return EXTISM_JSON_OK;
}

/** Decode the JSON string literal in `value` (`n` bytes, surrounding whitespace allowed) into fresh
 *  plugin memory: `*out` is UTF-8, NUL-terminated, `*out_len` (if given) its length — which counts
 *  any `\u0000` inside, so prefer it to strlen. Release with `extism_heap_free`. Returns
 *  EXTISM_JSON_WRONG_TYPE when the value is not a string, EXTISM_JSON_INVALID when it is malformed. */
EXTISM_API ExtismJsonStatus extism_json_string(const void *value, size_t n, char **out, size_t *out_len) {
    const uint8_t *p = (const uint8_t *)value, *end = p + n;
    extism__json_space(&p, end);
    if (p >= end || *p != '"') return EXTISM_JSON_WRONG_TYPE;
    p++;
    /* Decoding never lengthens the text (an escape is at least as long as what it stands for). */
    char *buf = (char *)extism_malloc(n + 1);
    if (!buf) return EXTISM_JSON_NO_MEMORY;
    size_t len = 0;
    uint8_t ch[4];
    int r;
    while ((r = extism__json_char(&p, end, ch)) > 0) {
        extism_copy(buf + len, ch, (size_t)r);
        len += (size_t)r;
    }
    extism__json_space(&p, end);
    if (r < 0 || p != end) {
        extism_heap_free(buf);
        return EXTISM_JSON_INVALID;
    }
    buf[len] = 0;
    *out = buf;
    if (out_len) *out_len = len;
    return EXTISM_JSON_OK;
}

/** The string member `key` of the JSON object in `json` (`n` bytes), decoded: `extism_json_member`
 *  then `extism_json_string`. See the example above this section. */
EXTISM_API ExtismJsonStatus extism_json_get_string(const void *json, size_t n, const char *key, char **out,
                                                  size_t *out_len) {
    const uint8_t *value;
    size_t value_len;
    ExtismJsonStatus status = extism_json_member(json, n, key, &value, &value_len);
    return status == EXTISM_JSON_OK ? extism_json_string(value, value_len, out, out_len) : status;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *value;
} ExtismHttpHeader;

typedef struct {
    int32_t status;     /* HTTP status code */
    ExtismHandle body;  /* kernel block with the response body (0 when empty) */
    uint64_t body_len;
} ExtismHttpResponse;

/**
 * Send an HTTP request through the host. The host only lets it through when the URL's host is in
 * the plugin's `allowed_hosts`; otherwise the call fails with the host's error.
 *   ExtismHttpHeader h[] = {{"Accept", "application/json"}};
 *   ExtismHttpResponse r = extism_http_request_send("GET", "https://example.com/", h, 1, NULL, 0);
 */
EXTISM_API ExtismHttpResponse extism_http_request_send(const char *method, const char *url,
                                                   const ExtismHttpHeader *headers, size_t n_headers,
                                                   const void *body, uint64_t body_len) {
    ExtismBuffer req = {0};
    extism_buffer_append_str(&req, "{\"url\":");
    extism_buffer_append_json_string(&req, url);
    extism_buffer_append_str(&req, ",\"method\":");
    extism_buffer_append_json_string(&req, method);
    extism_buffer_append_str(&req, ",\"headers\":{");
    for (size_t i = 0; i < n_headers; i++) {
        if (i) extism_buffer_append(&req, ",", 1);
        extism_buffer_append_json_string(&req, headers[i].name);
        extism_buffer_append(&req, ":", 1);
        extism_buffer_append_json_string(&req, headers[i].value);
    }
    extism_buffer_append_str(&req, "}}");
    ExtismHttpResponse res = {0, 0, 0};
    if (req.failed) {
        extism_buffer_free(&req);
        return res;
    }
    ExtismHandle req_h = extism_alloc_bytes(req.data, req.len);
    extism_buffer_free(&req);
    ExtismHandle body_h = body ? extism_alloc_bytes(body, body_len) : 0;
    res.body = extism_http_request(req_h, body_h);
    res.status = extism_http_status_code();
    res.body_len = res.body ? extism_length(res.body) : 0;
    return res;
}

/**
 * One header of the last HTTP response (name in lower case; repeated headers joined with ", "),
 * NUL-terminated on the plugin heap (free with extism_heap_free), or NULL when the response has
 * no such header or the host hands no headers over: plugin.yaml must set
 * `permissions.http_response_headers: true` and the user must grant it.
 *   char *etag = extism_http_response_header("etag", &n);
 */
EXTISM_API char *extism_http_response_header(const char *name, size_t *len) {
    ExtismHandle h = extism_http_headers();
    if (!h) return NULL;
    uint64_t n = 0;
    uint8_t *json = extism_load_block(h, &n);
    extism_free(h);
    if (!json) return NULL;
    char *value = NULL;
    size_t value_len = 0;
    ExtismJsonStatus status = extism_json_get_string(json, (size_t)n, name, &value, &value_len);
    extism_heap_free(json);
    if (status != EXTISM_JSON_OK) return NULL;
    if (len) *len = value_len;
    return value;
}

#ifdef __cplusplus
}
#endif

#endif /* EXTISM_PDK_H */
