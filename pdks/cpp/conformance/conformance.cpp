// The C++ PDK's conformance plugin: every export of conformance/CONTRACT.md, written with the
// PDK's public API only. It doubles as the PDK's worked example.

#include <extism-pdk.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// A user host function: the runner links `extism:host/user::reverse_bytes`, (i64) -> i64.
EXTISM_HOST_FN("reverse_bytes") extism::Offset reverse_bytes(extism::Offset input);

namespace {

// A whole string as a non-negative decimal integer.
std::optional<uint64_t> parse_count(std::string_view text) {
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

std::string http_output(const extism::http::Response& response) {
  return std::to_string(response.status) + "\n" + response.text();
}

}  // namespace

EXTISM_EXPORT(echo) {
  extism::output(extism::input());
  return 0;
}

EXTISM_EXPORT(greet) {
  extism::output("Hello, " + extism::input_string() + "!");
  return 0;
}

EXTISM_EXPORT(reverse) {
  std::vector<uint8_t> bytes = extism::input();
  std::reverse(bytes.begin(), bytes.end());
  extism::output(bytes);
  return 0;
}

EXTISM_EXPORT(input_size) {
  extism::output(std::to_string(extism::input_length()));
  return 0;
}

EXTISM_EXPORT(json_sum) {
  std::string why;
  const std::optional<extism::json::Value> input = extism::json::parse(extism::input_string(), &why);
  if (!input) return extism::set_error("json_sum: the input is not JSON: " + why);
  const extism::json::Value* a = input->get("a");
  const extism::json::Value* b = input->get("b");
  const std::optional<int64_t> x = a ? a->as_int() : std::nullopt, y = b ? b->as_int() : std::nullopt;
  if (!x || !y) return extism::set_error("json_sum: expected an object with integer members \"a\" and \"b\"");
  int64_t sum;
  if (__builtin_add_overflow(*x, *y, &sum)) return extism::set_error("json_sum: a + b overflows int64");
  extism::output(extism::json::Value::object().set("sum", sum).dump());
  return 0;
}

EXTISM_EXPORT(config) {
  const std::string key = extism::input_string();
  const std::optional<std::string> value = extism::config::get(key);
  if (!value) return extism::set_error("config key '" + key + "' is not set");
  extism::output(*value);
  return 0;
}

EXTISM_EXPORT(var_counter) {
  const uint64_t count = parse_count(extism::var::get("counter").value_or("0")).value_or(0) + 1;
  const std::string text = std::to_string(count);
  extism::var::set("counter", text);
  extism::output(text);
  return 0;
}

EXTISM_EXPORT(var_set) {
  const std::string in = extism::input_string();
  const size_t eq = in.find('=');
  if (eq == std::string::npos) return extism::set_error("var_set: expected <key>=<value>");
  extism::var::set(std::string_view(in).substr(0, eq), std::string_view(in).substr(eq + 1));
  return 0;
}

EXTISM_EXPORT(var_get) {
  const std::string key = extism::input_string();
  const std::optional<std::vector<uint8_t>> value = extism::var::get_bytes(key);
  if (!value) return extism::set_error("var '" + key + "' is not set");
  extism::output(*value);
  return 0;
}

EXTISM_EXPORT(var_delete) {
  extism::var::remove(extism::input_string());
  return 0;
}

EXTISM_EXPORT(fail) { return extism::set_error(extism::input_string()); }

EXTISM_EXPORT(trap) { __builtin_trap(); }

EXTISM_EXPORT(http_get) {
  const extism::http::Request request{extism::input_string(), "GET", {{"X-Conformance", "1"}}};
  extism::output(http_output(extism::http::request(request)));
  return 0;
}

EXTISM_EXPORT(http_post) {
  const std::optional<std::string> url = extism::config::get("url");
  if (!url) return extism::set_error("config key 'url' is not set");
  const extism::http::Request request{
      *url, "POST", {{"X-Conformance", "1"}, {"Content-Type", "text/plain"}}};
  extism::output(http_output(extism::http::request(request, extism::input())));
  return 0;
}

EXTISM_EXPORT(host_reverse) {
  const extism::Memory in = extism::Memory::from(extism::input());
  extism::output(extism::Memory(reverse_bytes(in.offset())));
  return 0;
}

EXTISM_EXPORT(log) {
  const std::string msg = extism::input_string();
  extism::log::debug("debug: " + msg);
  extism::log::info("info: " + msg);
  extism::log::warn("warn: " + msg);
  extism::log::error("error: " + msg);
  return 0;
}

EXTISM_EXPORT(spin) {
  for (volatile uint64_t i = 0;; i = i + 1) {
  }
}

EXTISM_EXPORT(grow) {
  const std::optional<uint64_t> pages = parse_count(extism::input_string());
  if (!pages) return extism::set_error("grow: expected a decimal page count");
  if (*pages > UINT32_MAX || __builtin_wasm_memory_grow(0, static_cast<size_t>(*pages)) == SIZE_MAX) {
    return extism::set_error("grow: memory cannot grow by " + std::to_string(*pages) + " pages");
  }
  extism::output("ok");
  return 0;
}

EXTISM_EXPORT(large_output) {
  const std::optional<uint64_t> n = parse_count(extism::input_string());
  if (!n) return extism::set_error("large_output: expected a decimal byte count");
  std::string bytes(static_cast<size_t>(*n), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i % 251);
  extism::output(bytes);
  return 0;
}
