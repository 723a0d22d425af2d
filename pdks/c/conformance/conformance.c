/* The C conformance plugin: every export of conformance/CONTRACT.md, written with the PDK's
 * public API only. It doubles as the C PDK's complete example. */
#include "extism-pdk.h"

EXTISM_IMPORT_USER("reverse_bytes") ExtismHandle reverse_bytes(ExtismHandle block);

#define OOM() extism_error("out of memory")

/* Decimal ASCII → uint64; false on anything else. */
static bool parse_u64(const uint8_t *s, uint64_t n, uint64_t *out) {
    if (n == 0 || n > 19) return false;
    uint64_t v = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static void output_u64(uint64_t v) {
    ExtismBuffer b = {0};
    extism_buffer_append_int(&b, (int64_t)v);
    extism_output(b.data, b.len);
    extism_buffer_free(&b);
}

EXTISM_EXPORT("echo") int32_t echo(void) {
    uint64_t n;
    uint8_t *in = extism_input(&n);
    if (!in) return OOM();
    extism_output(in, n);
    extism_heap_free(in);
    return 0;
}

EXTISM_EXPORT("greet") int32_t greet(void) {
    uint64_t n;
    uint8_t *name = extism_input(&n);
    if (!name) return OOM();
    ExtismBuffer b = {0};
    extism_buffer_append_str(&b, "Hello, ");
    extism_buffer_append(&b, name, n);
    extism_buffer_append_str(&b, "!");
    extism_heap_free(name);
    if (b.failed) return OOM();
    extism_output(b.data, b.len);
    extism_buffer_free(&b);
    return 0;
}

EXTISM_EXPORT("reverse") int32_t reverse(void) {
    uint64_t n;
    uint8_t *in = extism_input(&n);
    if (!in) return OOM();
    for (uint64_t i = 0; i < n / 2; i++) {
        uint8_t t = in[i];
        in[i] = in[n - 1 - i];
        in[n - 1 - i] = t;
    }
    extism_output(in, n);
    extism_heap_free(in);
    return 0;
}

EXTISM_EXPORT("input_size") int32_t input_size(void) {
    output_u64(extism_input_length());
    return 0;
}

/* A deliberately small JSON reader: one object whose members are integers (a and b wanted). */
typedef struct {
    const uint8_t *p, *end;
} Cursor;

static void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static bool expect(Cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == (uint8_t)ch) {
        c->p++;
        return true;
    }
    return false;
}

static bool read_int(Cursor *c, int64_t *out) {
    skip_ws(c);
    bool neg = c->p < c->end && *c->p == '-';
    if (neg) c->p++;
    const uint8_t *start = c->p;
    uint64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && c->p - start < 19) v = v * 10 + (*c->p++ - '0');
    if (c->p == start || (c->p < c->end && *c->p >= '0' && *c->p <= '9')) return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

EXTISM_EXPORT("json_sum") int32_t json_sum(void) {
    uint64_t n;
    uint8_t *in = extism_input(&n);
    if (!in) return OOM();
    Cursor c = {in, in + n};
    int64_t a = 0, b = 0;
    bool have_a = false, have_b = false, ok = expect(&c, '{');
    while (ok) {
        skip_ws(&c);
        if (!expect(&c, '"')) {
            ok = false;
            break;
        }
        const uint8_t *key = c.p;
        while (c.p < c.end && *c.p != '"') c.p++;
        size_t key_len = (size_t)(c.p - key);
        ok = expect(&c, '"') && expect(&c, ':');
        int64_t v;
        if (!ok || !read_int(&c, &v)) {
            ok = false;
            break;
        }
        if (key_len == 1 && key[0] == 'a') a = v, have_a = true;
        if (key_len == 1 && key[0] == 'b') b = v, have_b = true;
        if (expect(&c, ',')) continue;
        ok = expect(&c, '}');
        skip_ws(&c);
        ok = ok && c.p == c.end;
        break;
    }
    extism_heap_free(in);
    if (!ok || !have_a || !have_b) return extism_error("json_sum: expected {\"a\": <int>, \"b\": <int>}");
    ExtismBuffer out = {0};
    extism_buffer_append_str(&out, "{\"sum\":");
    extism_buffer_append_int(&out, a + b);
    extism_buffer_append_str(&out, "}");
    extism_output(out.data, out.len);
    extism_buffer_free(&out);
    return 0;
}

/* Look up the input as a key with `lookup`; output the value, or fail with
 * "<what> '<key>' is not set". */
static int32_t output_lookup(uint8_t *(*lookup)(const char *, uint64_t *), const char *what) {
    uint8_t *key = extism_input(NULL);
    if (!key) return OOM();
    uint64_t n;
    uint8_t *value = lookup((const char *)key, &n);
    int32_t rc = 0;
    if (value) {
        extism_output(value, n);
    } else {
        ExtismBuffer msg = {0};
        extism_buffer_append_str(&msg, what);
        extism_buffer_append_str(&msg, " '");
        extism_buffer_append_str(&msg, (const char *)key);
        extism_buffer_append_str(&msg, "' is not set");
        rc = extism_error_bytes(msg.data, msg.len);
        extism_buffer_free(&msg);
    }
    extism_heap_free(value);
    extism_heap_free(key);
    return rc;
}

static uint8_t *config_lookup(const char *key, uint64_t *len) { return (uint8_t *)extism_config(key, len); }

EXTISM_EXPORT("config") int32_t config(void) { return output_lookup(config_lookup, "config key"); }

EXTISM_EXPORT("var_counter") int32_t var_counter(void) {
    uint64_t n = 0, count = 0;
    uint8_t *stored = extism_var("counter", &n);
    if (stored && !parse_u64(stored, n, &count)) count = 0;
    extism_heap_free(stored);
    count++;
    ExtismBuffer b = {0};
    extism_buffer_append_int(&b, (int64_t)count);
    extism_var_put("counter", b.data, b.len);
    extism_output(b.data, b.len);
    extism_buffer_free(&b);
    return 0;
}

EXTISM_EXPORT("var_set") int32_t var_set(void) {
    uint64_t n;
    uint8_t *in = extism_input(&n);
    if (!in) return OOM();
    uint64_t eq = 0;
    while (eq < n && in[eq] != '=') eq++;
    if (eq == n) {
        extism_heap_free(in);
        return extism_error("var_set: expected <key>=<value>");
    }
    in[eq] = 0;
    extism_var_put((const char *)in, in + eq + 1, n - eq - 1);
    extism_heap_free(in);
    return 0;
}

EXTISM_EXPORT("var_get") int32_t var_get(void) { return output_lookup(extism_var, "var"); }

EXTISM_EXPORT("var_delete") int32_t var_delete(void) {
    uint8_t *key = extism_input(NULL);
    if (!key) return OOM();
    extism_var_remove((const char *)key);
    extism_heap_free(key);
    return 0;
}

EXTISM_EXPORT("fail") int32_t fail(void) {
    uint64_t n;
    uint8_t *msg = extism_input(&n);
    if (!msg) return OOM();
    extism_error_bytes(msg, n);
    extism_heap_free(msg);
    return 1;
}

EXTISM_EXPORT("trap") int32_t trap(void) {
    __builtin_trap();
}

/* Output "<status>\n<body>" for a response. */
static int32_t output_response(ExtismHttpResponse r) {
    ExtismBuffer b = {0};
    extism_buffer_append_int(&b, r.status);
    extism_buffer_append_str(&b, "\n");
    uint8_t *body = r.body ? extism_load_block(r.body, NULL) : NULL;
    if (body) extism_buffer_append(&b, body, r.body_len);
    extism_heap_free(body);
    if (r.body) extism_free(r.body);
    if (b.failed) return OOM();
    extism_output(b.data, b.len);
    extism_buffer_free(&b);
    return 0;
}

EXTISM_EXPORT("http_get") int32_t http_get(void) {
    uint8_t *url = extism_input(NULL);
    if (!url) return OOM();
    ExtismHttpHeader headers[] = {{"X-Conformance", "1"}};
    ExtismHttpResponse r = extism_http_request_send("GET", (const char *)url, headers, 1, NULL, 0);
    extism_heap_free(url);
    return output_response(r);
}

EXTISM_EXPORT("http_post") int32_t http_post(void) {
    char *url = extism_config("url", NULL);
    if (!url) return extism_error("config key 'url' is not set");
    uint64_t n;
    uint8_t *body = extism_input(&n);
    if (!body) return OOM();
    ExtismHttpHeader headers[] = {{"X-Conformance", "1"}, {"Content-Type", "text/plain"}};
    ExtismHttpResponse r = extism_http_request_send("POST", url, headers, 2, body, n);
    extism_heap_free(url);
    extism_heap_free(body);
    return output_response(r);
}

EXTISM_EXPORT("host_reverse") int32_t host_reverse(void) {
    uint64_t n;
    uint8_t *in = extism_input(&n);
    if (!in) return OOM();
    ExtismHandle arg = extism_alloc_bytes(in, n);
    extism_heap_free(in);
    ExtismHandle result = reverse_bytes(arg);
    extism_free(arg);
    if (result) extism_output_handle(result); /* 0: the host returned an empty result */
    return 0;
}

EXTISM_EXPORT("log") int32_t log_levels(void) {
    uint64_t n;
    uint8_t *msg = extism_input(&n);
    if (!msg) return OOM();
    static const struct {
        ExtismLogLevel level;
        const char *prefix;
    } levels[] = {{EXTISM_LOG_DEBUG, "debug: "}, {EXTISM_LOG_INFO, "info: "},
                  {EXTISM_LOG_WARN, "warn: "}, {EXTISM_LOG_ERROR, "error: "}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        ExtismBuffer line = {0};
        extism_buffer_append_str(&line, levels[i].prefix);
        extism_buffer_append(&line, msg, n);
        extism_log(levels[i].level, (const char *)line.data, line.len);
        extism_buffer_free(&line);
    }
    extism_heap_free(msg);
    return 0;
}

EXTISM_EXPORT("spin") int32_t spin(void) {
    volatile uint64_t i = 0;
    for (;;) i++;
}

EXTISM_EXPORT("grow") int32_t grow(void) {
    uint64_t n, pages;
    uint8_t *in = extism_input(&n);
    if (!in) return OOM();
    bool ok = parse_u64(in, n, &pages);
    extism_heap_free(in);
    if (!ok) return extism_error("grow: expected a decimal page count");
    if (__builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1) return extism_error("grow: memory.grow refused");
    extism_output_str("ok");
    return 0;
}

EXTISM_EXPORT("large_output") int32_t large_output(void) {
    uint64_t n, size;
    uint8_t *in = extism_input(&n);
    if (!in) return OOM();
    bool ok = parse_u64(in, n, &size);
    extism_heap_free(in);
    if (!ok) return extism_error("large_output: expected a decimal byte count");
    uint8_t *buf = (uint8_t *)extism_malloc((size_t)size);
    if (!buf) return OOM();
    for (uint64_t i = 0; i < size; i++) buf[i] = (uint8_t)(i % 251);
    extism_output(buf, size);
    extism_heap_free(buf);
    return 0;
}
