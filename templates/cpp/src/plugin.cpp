// The plugin's exports. Each is `EXTISM_EXPORT(name) { … }`: it reads the call's input, sets the
// output, and returns 0 (or `return extism::set_error("…");`). The API is extism-pdk.hpp, the
// C++ PDK.
#include <extism-pdk.hpp>

using extism::json::Value;

// {"name": "Ada"} -> {"greeting": "Hello, Ada!"}
EXTISM_EXPORT(greet) {
  const std::optional<Value> input = extism::json::parse(extism::input_string());
  if (!input || !input->is_object()) return extism::set_error("greet: the input is not a JSON object");
  const Value* name = input->get("name");
  if (!name) return extism::set_error("greet: missing \"name\" (a string)");
  if (!name->is_string()) return extism::set_error("greet: \"name\" must be a string");
  extism::output(Value::object().set("greeting", "Hello, " + *name->as_string() + "!").dump());
  return 0;
}
