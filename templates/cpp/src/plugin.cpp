// The plugin's exports. Each is `EXTISM_EXPORT(name) { … }`: it reads the call's input, sets the
// output, and returns 0 (or `return extism::set_error("…");`). The API is extism-pdk.hpp, the
// C++ PDK.
#include <extism-pdk.hpp>

#include "json.hpp"

// {"name": "Ada"} -> {"greeting": "Hello, Ada!"}
EXTISM_EXPORT(greet) {
  const json::StringMember name = json::string_member(extism::input_string(), "name");
  switch (name.status) {
    case json::Status::ok: break;
    case json::Status::missing: return extism::set_error("greet: missing \"name\" (a string)");
    case json::Status::wrong_type: return extism::set_error("greet: \"name\" must be a string");
    case json::Status::invalid: return extism::set_error("greet: the input is not a JSON object");
  }
  extism::output("{\"greeting\":" + json::quote("Hello, " + name.value + "!") + "}");
  return 0;
}
