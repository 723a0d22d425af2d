/* The plugin's exports. Each is `EXTISM_EXPORT("name") int32_t name(void)`: it reads the call's
 * input, sets the output, and returns 0 (or sets an error and returns 1). The API is in
 * extism-pdk.h, the C PDK: one header, no libc. */
#include "extism-pdk.h"

/* {"name": "Ada"} -> {"greeting": "Hello, Ada!"} */
EXTISM_EXPORT("greet") int32_t greet(void) {
    uint64_t input_len;
    uint8_t *input = extism_input(&input_len);
    if (!input) return extism_error("greet: out of memory");

    char *name;
    size_t name_len;
    ExtismJsonStatus status = extism_json_get_string(input, input_len, "name", &name, &name_len);
    extism_heap_free(input);
    switch (status) {
        case EXTISM_JSON_OK: break;
        case EXTISM_JSON_MISSING: return extism_error("greet: missing \"name\" (a string)");
        case EXTISM_JSON_WRONG_TYPE: return extism_error("greet: \"name\" must be a string");
        case EXTISM_JSON_INVALID: return extism_error("greet: the input is not a JSON object");
        case EXTISM_JSON_NO_MEMORY: return extism_error("greet: out of memory");
    }

    ExtismBuffer greeting = {0};
    extism_buffer_append_str(&greeting, "Hello, ");
    extism_buffer_append(&greeting, name, name_len);
    extism_buffer_append_str(&greeting, "!");
    extism_heap_free(name);

    ExtismBuffer out = {0};
    extism_buffer_append_str(&out, "{\"greeting\":");
    extism_buffer_append_json_bytes(&out, greeting.data, greeting.len);
    extism_buffer_append_str(&out, "}");
    bool failed = greeting.failed || out.failed;
    if (!failed) extism_output(out.data, out.len);
    extism_buffer_free(&greeting);
    extism_buffer_free(&out);
    return failed ? extism_error("greet: out of memory") : 0;
}
