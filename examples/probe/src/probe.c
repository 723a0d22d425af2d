/* The probe plugin: one export per capability, so the host's grants can be tested from outside. */
#include "extism-pdk.h"

EXTISM_IMPORT_USER("kv_get") ExtismHandle kv_get(ExtismHandle key);
EXTISM_IMPORT_USER("kv_set") void kv_set(ExtismHandle key, ExtismHandle value);
EXTISM_IMPORT_USER("log_event") void log_event(ExtismHandle message);
EXTISM_IMPORT_USER("context_get") ExtismHandle context_get(void);

/* The decoded string member `key` of the input object (heap copy, NUL-terminated), or NULL. */
static char *arg(const char *key, uint64_t *len) {
    uint64_t n;
    uint8_t *in = extism_input(&n);
    char *value = NULL;
    size_t vlen = 0;
    if (!in || extism_json_get_string(in, n, key, &value, &vlen) != EXTISM_JSON_OK) return NULL;
    *len = vlen;
    return value;
}

static int32_t output_json_field(const char *name, const uint8_t *value, uint64_t n) {
    ExtismBuffer out = {0};
    extism_buffer_append_str(&out, "{\"");
    extism_buffer_append_str(&out, name);
    extism_buffer_append_str(&out, "\":");
    extism_buffer_append_json_bytes(&out, value, n);
    extism_buffer_append_str(&out, "}");
    extism_output(out.data, out.len);
    extism_buffer_free(&out);
    return 0;
}

EXTISM_EXPORT("echo") int32_t echo(void) {
    uint64_t n; char *t = arg("text", &n);
    if (!t) return extism_error("echo: give me {\"text\": ...}");
    return output_json_field("text", (uint8_t *)t, n);
}

EXTISM_EXPORT("fetch") int32_t fetch(void) {
    uint64_t n; char *u = arg("url", &n);
    if (!u) return extism_error("fetch: give me {\"url\": ...}");
    uint64_t hn; char *hh = arg("host", &hn); /* an optional Host header the plugin tries to set */
    ExtismHttpHeader h[] = {{"Host", hh}};
    ExtismHttpResponse r = extism_http_request_send("GET", u, hh ? h : NULL, hh ? 1 : 0, NULL, 0);
    uint64_t bl = 0; uint8_t *b = r.body ? extism_load_block(r.body, &bl) : NULL;
    ExtismBuffer out = {0};
    extism_buffer_append_str(&out, "{\"status\":");
    extism_buffer_append_int(&out, r.status);
    extism_buffer_append_str(&out, ",\"body\":");
    extism_buffer_append_json_bytes(&out, b ? b : (uint8_t *)"", bl);
    extism_buffer_append_str(&out, "}");
    extism_output(out.data, out.len);
    return 0;
}

EXTISM_EXPORT("config") int32_t config(void) {
    uint64_t n; char *k = arg("key", &n);
    if (!k) return extism_error("config: give me {\"key\": ...}");
    uint64_t vl = 0; char *v = extism_config(k, &vl);
    if (!v) return extism_error("config: no such key");
    return output_json_field("value", (uint8_t *)v, vl);
}

EXTISM_EXPORT("remember") int32_t remember(void) {
    uint64_t kn, vn; char *k = arg("key", &kn); char *v = arg("value", &vn);
    if (!k || !v) return extism_error("remember: give me {\"key\": ..., \"value\": ...}");
    kv_set(extism_alloc_bytes((uint8_t *)k, kn), extism_alloc_bytes((uint8_t *)v, vn));
    extism_output_str("{\"stored\":true}");
    return 0;
}

EXTISM_EXPORT("recall") int32_t recall(void) {
    uint64_t kn; char *k = arg("key", &kn);
    if (!k) return extism_error("recall: give me {\"key\": ...}");
    ExtismHandle h = kv_get(extism_alloc_bytes((uint8_t *)k, kn));
    if (!h) return extism_error("recall: nothing stored under that key");
    uint64_t vl; uint8_t *v = extism_load_block(h, &vl);
    return output_json_field("value", v, vl);
}

EXTISM_EXPORT("note") int32_t note(void) {
    uint64_t n; char *m = arg("message", &n);
    if (!m) return extism_error("note: give me {\"message\": ...}");
    log_event(extism_alloc_bytes((uint8_t *)m, n));
    extism_output_str("{\"logged\":true}");
    return 0;
}

EXTISM_EXPORT("whoami") int32_t whoami(void) {
    ExtismHandle h = context_get();
    if (!h) return extism_error("whoami: no context");
    extism_output_handle(h);
    return 0;
}

EXTISM_EXPORT("fail") int32_t fail(void) {
    uint64_t n; char *m = arg("message", &n);
    if (!m) return extism_error("fail: give me {\"message\": ...}");
    return extism_error_bytes(m, n);
}

EXTISM_EXPORT("crash") int32_t crash(void) { __builtin_trap(); }

EXTISM_EXPORT("spin") int32_t spin(void) {
    volatile uint64_t i = 0;
    for (;;) i++;
    return 0;
}

/* {"size": N} → {"text": "xxx…"} of N bytes: a huge result for the host's output cap. */
EXTISM_EXPORT("big") int32_t big(void) {
    uint64_t n; uint8_t *in = extism_input(&n);
    const uint8_t *v; size_t vl; uint64_t size = 0;
    if (!in || extism_json_member(in, n, "size", &v, &vl) != EXTISM_JSON_OK)
        return extism_error("big: give me {\"size\": N}");
    for (size_t i = 0; i < vl && v[i] >= '0' && v[i] <= '9'; i++) size = size * 10 + (v[i] - '0');
    ExtismBuffer out = {0};
    extism_buffer_append_str(&out, "{\"text\":\"");
    for (uint64_t i = 0; i < size; i++) extism_buffer_append(&out, (const uint8_t *)"x", 1);
    extism_buffer_append_str(&out, "\"}");
    extism_output(out.data, out.len);
    extism_buffer_free(&out);
    return 0;
}

/* An error message that is not UTF-8 (the host must still report it as a tool error). */
EXTISM_EXPORT("bad_error") int32_t bad_error(void) { return extism_error_bytes("bad \xff\xfe bytes", 12); }

/* {"key": k, "value": v}: store v in the instance's Extism vars; `getvar` reads it back. */
EXTISM_EXPORT("setvar") int32_t setvar(void) {
    uint64_t kn, vn; char *k = arg("key", &kn); char *v = arg("value", &vn);
    if (!k || !v) return extism_error("setvar: give me {\"key\": ..., \"value\": ...}");
    extism_var_put(k, v, vn);
    extism_output_str("{\"stored\":true}");
    return 0;
}

EXTISM_EXPORT("getvar") int32_t getvar(void) {
    uint64_t kn; char *k = arg("key", &kn);
    if (!k) return extism_error("getvar: give me {\"key\": ...}");
    uint64_t vl = 0; uint8_t *v = extism_var(k, &vl);
    if (!v) return output_json_field("value", (uint8_t *)"", 0);
    return output_json_field("value", v, vl);
}

/* An output that is JSON but not what output_schema says. */
EXTISM_EXPORT("wrong_shape") int32_t wrong_shape(void) {
    extism_output_str("{\"text\":42}");
    return 0;
}

EXTISM_EXPORT("raw") int32_t raw(void) {
    uint64_t n; uint8_t *in = extism_input(&n);
    extism_output(in, n);
    return 0;
}
