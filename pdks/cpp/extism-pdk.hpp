// extism-pdk.hpp — a single-header C++17 PDK for writing Extism plugins.
//
// Build with zig's clang (wasi libc++), exceptions and RTTI off:
//   python -m ziglang c++ --target=wasm32-wasi -mexec-model=reactor -std=c++17 -Oz \
//     -fno-exceptions -fno-rtti -I <this dir> -o plugin.wasm plugin.cpp
// and load the module with WASI enabled.
//
// Everything lives in namespace `extism`:
//   input() / input_string()        the call's input
//   output(...)                     the call's output
//   set_error(msg)                  the call's error message (returns 1 for `return set_error(...)`)
//   config::get                     read-only configuration
//   var::get / set / remove         variables that live as long as the plugin instance
//   log::debug / info / warn / error / trace
//   json::parse / json::Value       JSON in and out (a value tree; RFC 8259, UTF-8 checked)
//   http::request                   outgoing HTTP (the host's allowed_hosts apply)
//   Memory                          an owned block of kernel memory (RAII, move-only)
//   kernel::*                       the raw `extism:host/env` imports, for anything else
//
// The library never throws; failures the kernel reports trap the call, as in every PDK.

#ifndef EXTISM_PDK_HPP
#define EXTISM_PDK_HPP

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

/// Import a function from the host: `EXTISM_IMPORT("module", "name") int64_t f(int64_t);`
#define EXTISM_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

/// Import a user host function (module `extism:host/user`). Kernel blocks are passed by offset:
///   EXTISM_HOST_FN("reverse_bytes") extism::Offset reverse_bytes(extism::Offset input);
#define EXTISM_HOST_FN(name) EXTISM_IMPORT("extism:host/user", name)

/// Define an exported plugin function; return 0 on success, non-zero after `set_error`:
///   EXTISM_EXPORT(greet) { extism::output("hi"); return 0; }
#define EXTISM_EXPORT(name) __attribute__((export_name(#name))) int32_t name()

namespace extism {

/// The offset of a block of kernel memory; 0 means "no block".
using Offset = uint64_t;

/// The raw kernel ABI (module `extism:host/env`). Prefer the wrappers below; these exist for
/// what they don't cover. Only the imports a plugin actually uses end up in its module.
/// Ownership: `config_get`, `var_get`, `var_set`, `http_request` and the `log_*` functions free
/// the blocks passed to them; `output_set` and `error_set` keep theirs for the host to read after
/// the call. Blocks they return belong to the caller.
namespace kernel {
#define EXTISM_KERNEL_FN(name) EXTISM_IMPORT("extism:host/env", #name)
EXTISM_KERNEL_FN(input_length) uint64_t input_length();
EXTISM_KERNEL_FN(input_load_u8) uint8_t input_load_u8(uint64_t at);
EXTISM_KERNEL_FN(input_load_u64) uint64_t input_load_u64(uint64_t at);
EXTISM_KERNEL_FN(alloc) Offset alloc(uint64_t n);
EXTISM_KERNEL_FN(free) void free(Offset block);
EXTISM_KERNEL_FN(length) uint64_t length(Offset block);
EXTISM_KERNEL_FN(load_u8) uint8_t load_u8(Offset at);
EXTISM_KERNEL_FN(load_u64) uint64_t load_u64(Offset at);
EXTISM_KERNEL_FN(store_u8) void store_u8(Offset at, uint8_t value);
EXTISM_KERNEL_FN(store_u64) void store_u64(Offset at, uint64_t value);
EXTISM_KERNEL_FN(output_set) void output_set(Offset block, uint64_t n);
EXTISM_KERNEL_FN(error_set) void error_set(Offset block);
EXTISM_KERNEL_FN(config_get) Offset config_get(Offset key);
EXTISM_KERNEL_FN(var_get) Offset var_get(Offset key);
EXTISM_KERNEL_FN(var_set) void var_set(Offset key, Offset value);
EXTISM_KERNEL_FN(http_request) Offset http_request(Offset request_json, Offset body);
EXTISM_KERNEL_FN(http_status_code) int32_t http_status_code();
EXTISM_KERNEL_FN(log_trace) void log_trace(Offset message);
EXTISM_KERNEL_FN(log_debug) void log_debug(Offset message);
EXTISM_KERNEL_FN(log_info) void log_info(Offset message);
EXTISM_KERNEL_FN(log_warn) void log_warn(Offset message);
EXTISM_KERNEL_FN(log_error) void log_error(Offset message);
#undef EXTISM_KERNEL_FN
}  // namespace kernel

/// An owned block of kernel memory, freed when the `Memory` goes out of scope unless
/// `release()`d. Move-only. Offsets passed to `load`/`store` are relative to the block and
/// are not bounds-checked: keep `at + n <= length()`.
class Memory {
 public:
  /// No block.
  Memory() noexcept = default;

  /// Adopt a block the kernel or a host function handed out (0 = no block); its length is
  /// asked of the kernel.
  explicit Memory(Offset offset) noexcept
      : offset_(offset), length_(offset ? kernel::length(offset) : 0) {}

  /// A new, uninitialised block of `n` bytes.
  static Memory alloc(uint64_t n) noexcept {
    Memory m;
    m.offset_ = n ? kernel::alloc(n) : 0;
    m.length_ = m.offset_ ? n : 0;
    return m;
  }

  /// A new block holding a copy of `n` bytes at `data`.
  static Memory from(const void* data, size_t n) noexcept {
    Memory m = alloc(n);
    m.store(0, data, n);
    return m;
  }
  /// A new block holding a copy of `text`.
  static Memory from(std::string_view text) noexcept { return from(text.data(), text.size()); }
  /// A new block holding a copy of `bytes`.
  static Memory from(const std::vector<uint8_t>& bytes) noexcept {
    return from(bytes.data(), bytes.size());
  }

  Memory(Memory&& other) noexcept
      : offset_(std::exchange(other.offset_, 0)), length_(std::exchange(other.length_, 0)) {}
  Memory& operator=(Memory&& other) noexcept {
    if (this != &other) {
      reset();
      offset_ = std::exchange(other.offset_, 0);
      length_ = std::exchange(other.length_, 0);
    }
    return *this;
  }
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;
  ~Memory() { reset(); }

  /// The block's kernel offset (0 when there is none), e.g. to pass to a host function.
  Offset offset() const noexcept { return offset_; }
  /// The block's length in bytes.
  uint64_t length() const noexcept { return length_; }
  /// True when there is a block.
  explicit operator bool() const noexcept { return offset_ != 0; }

  /// Copy `n` bytes starting `at` bytes into the block to `dst`.
  void load(uint64_t at, void* dst, size_t n) const noexcept {
    auto* out = static_cast<unsigned char*>(dst);
    const Offset base = offset_ + at;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const uint64_t word = kernel::load_u64(base + i);
      std::memcpy(out + i, &word, 8);
    }
    for (; i < n; ++i) out[i] = kernel::load_u8(base + i);
  }

  /// Copy `n` bytes from `src` into the block, starting `at` bytes in.
  void store(uint64_t at, const void* src, size_t n) noexcept {
    const auto* in = static_cast<const unsigned char*>(src);
    const Offset base = offset_ + at;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t word;
      std::memcpy(&word, in + i, 8);
      kernel::store_u64(base + i, word);
    }
    for (; i < n; ++i) kernel::store_u8(base + i, in[i]);
  }

  /// A copy of the whole block as bytes.
  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> v(static_cast<size_t>(length_));
    load(0, v.data(), v.size());
    return v;
  }
  /// A copy of the whole block as a string (any bytes, not checked for UTF-8).
  std::string string() const {
    std::string s(static_cast<size_t>(length_), '\0');
    load(0, s.data(), s.size());
    return s;
  }

  /// Give up ownership: the block is no longer freed by this object. Returns its offset.
  [[nodiscard]] Offset release() noexcept {
    length_ = 0;
    return std::exchange(offset_, 0);
  }

  /// Free the block now (if any).
  void reset() noexcept {
    if (offset_) kernel::free(offset_);
    offset_ = 0;
    length_ = 0;
  }

 private:
  Offset offset_ = 0;
  uint64_t length_ = 0;
};

namespace detail {
inline void read_input(void* dst, size_t n) noexcept {
  auto* out = static_cast<unsigned char*>(dst);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t word = kernel::input_load_u64(i);
    std::memcpy(out + i, &word, 8);
  }
  for (; i < n; ++i) out[i] = kernel::input_load_u8(i);
}

// A kernel lookup (config_get / var_get) by key. The kernel frees the key; the caller owns the
// result block.
inline Memory lookup(Offset (*get)(Offset), std::string_view key) noexcept {
  return Memory(get(Memory::from(key).release()));
}
}  // namespace detail

/// The length of the call's input in bytes.
inline uint64_t input_length() noexcept { return kernel::input_length(); }

/// A copy of the call's input as bytes.
inline std::vector<uint8_t> input() {
  std::vector<uint8_t> v(static_cast<size_t>(kernel::input_length()));
  detail::read_input(v.data(), v.size());
  return v;
}

/// A copy of the call's input as a string (any bytes, not checked for UTF-8).
inline std::string input_string() {
  std::string s(static_cast<size_t>(kernel::input_length()), '\0');
  detail::read_input(s.data(), s.size());
  return s;
}

/// Set the call's output to a block, without copying. The block now belongs to the kernel.
inline void output(Memory block) noexcept {
  const uint64_t n = block.length();
  kernel::output_set(block.release(), n);
}
/// Set the call's output to a copy of `n` bytes at `data`.
inline void output(const void* data, size_t n) noexcept { output(Memory::from(data, n)); }
/// Set the call's output to a copy of `text`.
inline void output(std::string_view text) noexcept { output(Memory::from(text)); }
/// Set the call's output to a copy of `bytes`.
inline void output(const std::vector<uint8_t>& bytes) noexcept { output(Memory::from(bytes)); }

/// Set the call's error message. Returns 1, so an export can `return extism::set_error(msg);`.
inline int32_t set_error(std::string_view message) noexcept {
  kernel::error_set(Memory::from(message).release());
  return 1;
}

/// Plugin configuration (the manifest's `config`), read-only.
namespace config {
/// The value of config key `key`, or nothing when it is not set.
inline std::optional<std::string> get(std::string_view key) {
  const Memory value = detail::lookup(kernel::config_get, key);
  if (!value) return std::nullopt;
  return value.string();
}
}  // namespace config

/// Plugin variables: bytes kept by the host for as long as the plugin instance lives.
namespace var {
/// The value of var `key` as a string (any bytes), or nothing when it is not set.
inline std::optional<std::string> get(std::string_view key) {
  const Memory value = detail::lookup(kernel::var_get, key);
  if (!value) return std::nullopt;
  return value.string();
}
/// The value of var `key` as bytes, or nothing when it is not set.
inline std::optional<std::vector<uint8_t>> get_bytes(std::string_view key) {
  const Memory value = detail::lookup(kernel::var_get, key);
  if (!value) return std::nullopt;
  return value.bytes();
}
/// Set var `key` to `n` bytes at `value`. The kernel cannot hold an empty block, so an empty
/// value removes the var.
inline void set(std::string_view key, const void* value, size_t n) noexcept {
  kernel::var_set(Memory::from(key).release(), Memory::from(value, n).release());
}
/// Set var `key` to `value`.
inline void set(std::string_view key, std::string_view value) noexcept {
  set(key, value.data(), value.size());
}
/// Set var `key` to `value`.
inline void set(std::string_view key, const std::vector<uint8_t>& value) noexcept {
  set(key, value.data(), value.size());
}
/// Remove var `key` (nothing happens when it is not set).
inline void remove(std::string_view key) noexcept { kernel::var_set(Memory::from(key).release(), 0); }
}  // namespace var

/// Log lines, shown by the host at or above its configured level.
namespace log {
namespace detail {
inline void write(void (*sink)(Offset), std::string_view message) noexcept {
  sink(Memory::from(message).release());  // the kernel frees the message
}
}  // namespace detail
/// Log at trace level (needs a runtime whose kernel has `log_trace`, e.g. 1.41).
inline void trace(std::string_view message) noexcept { detail::write(kernel::log_trace, message); }
/// Log at debug level.
inline void debug(std::string_view message) noexcept { detail::write(kernel::log_debug, message); }
/// Log at info level.
inline void info(std::string_view message) noexcept { detail::write(kernel::log_info, message); }
/// Log at warn level.
inline void warn(std::string_view message) noexcept { detail::write(kernel::log_warn, message); }
/// Log at error level.
inline void error(std::string_view message) noexcept { detail::write(kernel::log_error, message); }
}  // namespace log

/// JSON for inputs and outputs: `json::parse` reads a whole text into a `json::Value` tree,
/// `Value::dump()` and `json::quote` write JSON text.
///
///   const std::optional<extism::json::Value> in = extism::json::parse(extism::input_string());
///   const extism::json::Value* name = in ? in->get("name") : nullptr;
///   if (!name || !name->as_string()) return extism::set_error("expected {\"name\": \"…\"}");
///   extism::output(extism::json::Value::object().set("greeting", "Hi, " + *name->as_string()).dump());
///
/// The parser checks the whole text against RFC 8259: strings must be well-formed UTF-8, numbers
/// must have JSON's syntax, nothing but whitespace may follow the value, and arrays and objects
/// may nest `kMaxDepth` levels. A lone surrogate escape ("\ud800", which has no UTF-8 form)
/// decodes to U+FFFD. Objects keep their members in order, duplicates included; `get` finds the
/// last one, as most parsers do. Numbers keep their text, so no precision is lost until you
/// read one with `as_int` or `as_double`.
namespace json {

/// How deeply arrays and objects may nest (the parser recurses once per level).
inline constexpr int kMaxDepth = 128;

/// The kind of a `Value`.
enum class Type { null, boolean, number, string, array, object };

class Value;
/// An object's members, in order.
using Members = std::vector<std::pair<std::string, Value>>;

namespace detail {
class Parser;

// Append `s` as a JSON string literal.
inline void write_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}
}  // namespace detail

/// `s` (UTF-8) as a JSON string literal, quotes included: `quote("a\"b")` → `"a\"b"`.
inline std::string quote(std::string_view s) {
  std::string out;
  detail::write_string(out, s);
  return out;
}

/// A JSON value: null, a boolean, a number, a string, an array or an object.
class Value {
 public:
  /// `null`.
  Value() noexcept = default;
  /// `null`.
  Value(std::nullptr_t) noexcept {}
  /// `true` / `false`.
  Value(bool b) noexcept : type_(Type::boolean), bool_(b) {}
  /// A string (UTF-8).
  Value(std::string s) noexcept : type_(Type::string), text_(std::move(s)) {}
  /// A string (UTF-8).
  Value(std::string_view s) : Value(std::string(s)) {}
  /// A string (UTF-8).
  Value(const char* s) : Value(std::string(s)) {}
  /// An integer.
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                        !std::is_same_v<T, char>, int> = 0>
  Value(T n) : type_(Type::number), text_(std::to_string(n)) {}
  /// A number, written in its shortest exact form (`0.1`, `2.0`, `1e+300`); NaN and infinities
  /// (not JSON) become `null`.
  Value(double n) {
    char digits[32];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    if (n - n != 0 || ec != std::errc()) return;
    *this = number(std::string(digits, end));
    if (text_.find_first_of(".e") == std::string::npos) text_ += ".0";  // still a double when read back
  }

  /// An array of `items`: `Value::array({1, "two", nullptr})`.
  static Value array(std::vector<Value> items = {}) {
    Value v;
    v.type_ = Type::array;
    v.items_ = std::move(items);
    return v;
  }
  /// An object, empty or with `members`; add to it with `set`.
  static Value object(Members members = {}) {
    Value v;
    v.type_ = Type::object;
    v.members_ = std::move(members);
    return v;
  }

  Type type() const noexcept { return type_; }
  bool is_null() const noexcept { return type_ == Type::null; }
  bool is_bool() const noexcept { return type_ == Type::boolean; }
  bool is_number() const noexcept { return type_ == Type::number; }
  bool is_string() const noexcept { return type_ == Type::string; }
  bool is_array() const noexcept { return type_ == Type::array; }
  bool is_object() const noexcept { return type_ == Type::object; }

  /// The boolean, if this is one.
  std::optional<bool> as_bool() const noexcept {
    return is_bool() ? std::optional<bool>(bool_) : std::nullopt;
  }
  /// The string, if this is one (else nullptr).
  const std::string* as_string() const noexcept { return is_string() ? &text_ : nullptr; }
  /// The number, if this is one written as an integer (no fraction or exponent) that fits.
  std::optional<int64_t> as_int() const noexcept {
    int64_t n = 0;
    const char* end = text_.data() + text_.size();
    const auto [p, ec] = std::from_chars(text_.data(), end, n);
    if (!is_number() || ec != std::errc() || p != end) return std::nullopt;
    return n;
  }
  /// The nearest double, if this is a number.
  std::optional<double> as_double() const noexcept {
    return is_number() ? std::optional<double>(std::strtod(text_.c_str(), nullptr)) : std::nullopt;
  }
  /// The elements, if this is an array (else nullptr).
  const std::vector<Value>* as_array() const noexcept { return is_array() ? &items_ : nullptr; }
  /// The members, if this is an object (else nullptr).
  const Members* as_object() const noexcept { return is_object() ? &members_ : nullptr; }

  /// The member `key` of an object (the last one if it repeats); nullptr when this is not an
  /// object or has no such member.
  const Value* get(std::string_view key) const noexcept {
    if (!is_object()) return nullptr;
    for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
      if (it->first == key) return &it->second;
    }
    return nullptr;
  }

  /// Set member `key` (replacing it if present) and return *this, for chaining. A value that is
  /// not an object becomes an empty object first.
  Value& set(std::string_view key, Value value) {
    if (!is_object()) *this = object();
    for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
      if (it->first == key) {
        it->second = std::move(value);
        return *this;
      }
    }
    members_.emplace_back(std::string(key), std::move(value));
    return *this;
  }
  /// Append an element and return *this. A value that is not an array becomes an empty array first.
  Value& push(Value value) {
    if (!is_array()) *this = array();
    items_.push_back(std::move(value));
    return *this;
  }

  /// Compact JSON text.
  std::string dump() const {
    std::string out;
    dump(out);
    return out;
  }
  /// Append compact JSON text to `out`.
  void dump(std::string& out) const {
    switch (type_) {
      case Type::null: out += "null"; break;
      case Type::boolean: out += bool_ ? "true" : "false"; break;
      case Type::number: out += text_; break;
      case Type::string: detail::write_string(out, text_); break;
      case Type::array:
        out += '[';
        for (size_t i = 0; i < items_.size(); ++i) {
          if (i) out += ',';
          items_[i].dump(out);
        }
        out += ']';
        break;
      case Type::object:
        out += '{';
        for (size_t i = 0; i < members_.size(); ++i) {
          if (i) out += ',';
          detail::write_string(out, members_[i].first);
          out += ':';
          members_[i].second.dump(out);
        }
        out += '}';
        break;
    }
  }

 private:
  friend class detail::Parser;
  static Value number(std::string literal) {
    Value v;
    v.type_ = Type::number;
    v.text_ = std::move(literal);
    return v;
  }

  Type type_ = Type::null;
  bool bool_ = false;
  std::string text_;  // a string's UTF-8, or a number as written
  std::vector<Value> items_;
  Members members_;
};

namespace detail {
class Parser {
 public:
  explicit Parser(std::string_view text) : p_(text.data()), begin_(p_), end_(p_ + text.size()) {}

  std::optional<Value> document(std::string* error) {
    std::optional<Value> value = this->value(0);
    space();
    if (value && p_ != end_) value = fail("unexpected text after the value");
    if (!value && error) {
      *error = error_;
      *error += " at byte ";
      const size_t at = error->size();
      size_t offset = static_cast<size_t>(where_ - begin_);
      do {
        error->insert(error->begin() + at, static_cast<char>('0' + offset % 10));
      } while (offset /= 10);
    }
    return value;
  }

 private:
  const char* p_;
  const char* begin_;
  const char* end_;
  const char* error_ = "";
  const char* where_ = nullptr;

  std::nullopt_t fail(const char* what) {
    error_ = what;
    where_ = p_;
    return std::nullopt;
  }
  bool failed(const char* what) {
    fail(what);
    return false;
  }

  int peek() const { return p_ < end_ ? static_cast<unsigned char>(*p_) : -1; }

  void space() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++p_;
  }

  // Skip whitespace, then consume `c` if it comes next.
  bool eat(char c) {
    space();
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++p_;
    return true;
  }

  bool digits() {
    const char* start = p_;
    while (peek() >= '0' && peek() <= '9') ++p_;
    return p_ > start;
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  std::optional<Value> number() {
    const char* start = p_;
    if (peek() == '-') ++p_;
    bool ok = peek() == '0' ? (++p_, true) : digits();
    if (ok && peek() == '.') ok = (++p_, digits());
    if (ok && (peek() == 'e' || peek() == 'E')) {
      ++p_;
      if (peek() == '+' || peek() == '-') ++p_;
      ok = digits();
    }
    if (!ok) return fail("invalid number");
    return Value::number(std::string(start, p_));
  }

  std::optional<Value> word(std::string_view w, Value v) {
    if (static_cast<size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w) {
      return fail("expected a JSON value");
    }
    p_ += w.size();
    return v;
  }

  bool hex4(uint32_t* out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i, ++p_) {
      const int c = peek();
      const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (digit < 0) return false;
      v = v << 4 | static_cast<uint32_t>(digit);
    }
    *out = v;
    return true;
  }

  static void append_utf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | cp >> 6);
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | cp >> 12);
      *out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | cp >> 18);
      *out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
      *out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // A well-formed UTF-8 sequence whose lead byte `c` was just read (no overlongs, no
  // surrogates, nothing above U+10FFFF), appended to `out`.
  bool utf8_tail(unsigned char c, std::string* out) {
    const int n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0) return false;
    int lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    int hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    *out += static_cast<char>(c);
    for (int i = 1; i < n; ++i, lo = 0x80, hi = 0xBF) {
      const int next = peek();
      if (next < lo || next > hi) return false;
      *out += *p_++;
    }
    return true;
  }

  // A string literal at the cursor (its opening quote), decoded into `out`.
  bool string(std::string* out) {
    ++p_;
    for (;;) {
      const int c = peek();
      if (c < 0x20) return failed(c < 0 ? "unterminated string" : "control character in a string");
      ++p_;
      if (c == '"') return true;
      if (c >= 0x80) {
        if (!utf8_tail(static_cast<unsigned char>(c), out)) return failed("invalid UTF-8");
        continue;
      }
      if (c != '\\') {
        *out += static_cast<char>(c);
        continue;
      }
      const int e = peek();
      if (e < 0) return failed("unterminated string");
      ++p_;
      switch (e) {
        case '"': case '\\': case '/': *out += static_cast<char>(e); continue;
        case 'b': *out += '\b'; continue;
        case 'f': *out += '\f'; continue;
        case 'n': *out += '\n'; continue;
        case 'r': *out += '\r'; continue;
        case 't': *out += '\t'; continue;
        case 'u': break;
        default: --p_; return failed("invalid escape");
      }
      uint32_t cp, low;
      if (!hex4(&cp)) return failed("invalid \\u escape");
      if (cp >= 0xD800 && cp <= 0xDBFF && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
        const char* rewind = p_;
        p_ += 2;
        if (hex4(&low) && low >= 0xDC00 && low <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else {
          p_ = rewind;  // not a pair: the next escape is read on its own
        }
      }
      append_utf8(out, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp);
    }
  }

  // Any value, after optional whitespace; `depth` counts the containers around it.
  std::optional<Value> value(int depth) {
    space();
    switch (peek()) {
      case '"': {
        std::string s;
        if (!string(&s)) return std::nullopt;
        return Value(std::move(s));
      }
      case 't': return word("true", true);
      case 'f': return word("false", false);
      case 'n': return word("null", nullptr);
      case '[':
      case '{': {
        const bool is_object = *p_ == '{';
        if (depth >= kMaxDepth) return fail("nested too deeply");
        ++p_;
        Value container = is_object ? Value::object() : Value::array();
        if (eat(is_object ? '}' : ']')) return container;
        do {
          std::string key;
          if (is_object) {
            space();
            if (peek() != '"') return fail("expected a string key");
            if (!string(&key)) return std::nullopt;
            if (!eat(':')) return fail("expected ':'");
          }
          std::optional<Value> item = value(depth + 1);
          if (!item) return std::nullopt;
          if (is_object) {
            container.members_.emplace_back(std::move(key), std::move(*item));
          } else {
            container.items_.push_back(std::move(*item));
          }
        } while (eat(','));
        if (!eat(is_object ? '}' : ']')) return fail(is_object ? "expected ',' or '}'" : "expected ',' or ']'");
        return container;
      }
      case '-': case '0': case '1': case '2': case '3': case '4':
      case '5': case '6': case '7': case '8': case '9':
        return number();
      default: return fail("expected a JSON value");
    }
  }
};
}  // namespace detail

/// The JSON value that is the whole of `text` (UTF-8), or nothing when `text` is not JSON; then
/// `*error` (if given) says why, e.g. "expected ':' at byte 7".
inline std::optional<Value> parse(std::string_view text, std::string* error = nullptr) {
  return detail::Parser(text).document(error);
}

}  // namespace json

/// Outgoing HTTP through the host (only to the manifest's `allowed_hosts`; others fail the call).
namespace http {
/// An HTTP request: `http::Request{"https://example.com", "POST", {{"Accept", "text/plain"}}}`.
struct Request {
  std::string url;
  std::string method = "GET";
  std::map<std::string, std::string> headers;
};

/// An HTTP response.
struct Response {
  int32_t status = 0;
  std::vector<uint8_t> body;
  /// The body as a string (any bytes, not checked for UTF-8).
  std::string text() const { return std::string(body.begin(), body.end()); }
};

namespace detail {
using json::detail::write_string;

inline std::string request_json(const Request& req) {
  std::string json = "{\"url\":";
  write_string(json, req.url);
  json += ",\"method\":";
  write_string(json, req.method);
  json += ",\"headers\":{";
  bool first = true;
  for (const auto& [name, value] : req.headers) {
    if (!first) json += ',';
    first = false;
    write_string(json, name);
    json += ':';
    write_string(json, value);
  }
  json += "}}";
  return json;
}

// The kernel frees the request and body blocks; the reply block (0 for an empty body) is ours.
inline Response send(const Request& req, Memory body) {
  const Memory reply(kernel::http_request(Memory::from(request_json(req)).release(), body.release()));
  return Response{kernel::http_status_code(), reply.bytes()};
}
}  // namespace detail

/// Send `req` without a body.
inline Response request(const Request& req) { return detail::send(req, Memory()); }
/// Send `req` with `body`.
inline Response request(const Request& req, std::string_view body) {
  return detail::send(req, Memory::from(body));
}
/// Send `req` with `body`.
inline Response request(const Request& req, const std::vector<uint8_t>& body) {
  return detail::send(req, Memory::from(body));
}
}  // namespace http

}  // namespace extism

#endif  // EXTISM_PDK_HPP
