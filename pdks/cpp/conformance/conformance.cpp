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

// Just enough JSON to read an object's integer members; other values are validated and skipped.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : s_(text) {}

  // Reads a top-level object, calling `member(key, *this)` with the reader positioned at each
  // value; the callback must consume that value. False on any syntax error.
  template <typename F>
  bool object(F&& member) {
    if (!take('{')) return false;
    if (take('}')) return true;
    do {
      std::string key;
      if (!string(&key) || !take(':') || !member(key, *this)) return false;
    } while (take(','));
    return take('}');
  }

  bool end() {
    space();
    return i_ == s_.size();
  }

  // A JSON number that is an integer fitting in int64.
  bool integer(int64_t* out) {
    space();
    const char* first = s_.data() + i_;
    const char* last = s_.data() + s_.size();
    const auto [p, ec] = std::from_chars(first, last, *out);
    if (ec != std::errc() || (p < last && (*p == '.' || *p == 'e' || *p == 'E'))) return false;
    i_ = static_cast<size_t>(p - s_.data());
    return true;
  }

  // Any JSON value, discarded.
  bool skip(int depth = 0) {
    space();
    if (depth > 64 || i_ == s_.size()) return false;
    const char c = s_[i_];
    if (c == '"') return string(nullptr);
    if (c == '{') return object([depth](const std::string&, JsonReader& r) { return r.skip(depth + 1); });
    if (c == '[') {
      ++i_;
      if (take(']')) return true;
      do {
        if (!skip(depth + 1)) return false;
      } while (take(','));
      return take(']');
    }
    for (std::string_view word : {"true", "false", "null"}) {
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        return true;
      }
    }
    const size_t start = i_;
    while (i_ < s_.size() && std::string_view("+-.eE0123456789").find(s_[i_]) != std::string_view::npos) ++i_;
    return i_ > start;
  }

 private:
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  bool take(char c) {
    space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  // A string literal; simple escapes are decoded, `\uXXXX` is kept verbatim (keys we look for
  // are plain ASCII).
  bool string(std::string* out) {
    if (!take('"')) return false;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (i_ == s_.size()) return false;
        c = s_[i_++];
        switch (c) {
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'n': c = '\n'; break;
          case 'r': c = '\r'; break;
          case 't': c = '\t'; break;
          case 'u': if (out) *out += "\\"; break;
          case '"': case '\\': case '/': break;
          default: return false;
        }
      } else if (static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
      if (out) *out += c;
    }
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
};

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
  const std::string text = extism::input_string();
  JsonReader json(text);
  std::optional<int64_t> a, b;
  const bool ok = json.object([&](const std::string& key, JsonReader& r) {
    if (key != "a" && key != "b") return r.skip();
    int64_t value;
    if (!r.integer(&value)) return false;
    (key == "a" ? a : b) = value;
    return true;
  });
  if (!ok || !json.end()) return extism::set_error("json_sum: input is not a JSON object");
  if (!a || !b) return extism::set_error("json_sum: expected integer members \"a\" and \"b\"");
  int64_t sum;
  if (__builtin_add_overflow(*a, *b, &sum)) return extism::set_error("json_sum: a + b overflows int64");
  extism::output("{\"sum\":" + std::to_string(sum) + "}");
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
