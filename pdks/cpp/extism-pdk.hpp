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
//   http::request                   outgoing HTTP (the host's allowed_hosts apply)
//   Memory                          an owned block of kernel memory (RAII, move-only)
//   kernel::*                       the raw `extism:host/env` imports, for anything else
//
// The library never throws; failures the kernel reports trap the call, as in every PDK.

#ifndef EXTISM_PDK_HPP
#define EXTISM_PDK_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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
// Append `s` as a JSON string literal.
inline void json_string(std::string& out, std::string_view s) {
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

inline std::string request_json(const Request& req) {
  std::string json = "{\"url\":";
  json_string(json, req.url);
  json += ",\"method\":";
  json_string(json, req.method);
  json += ",\"headers\":{";
  bool first = true;
  for (const auto& [name, value] : req.headers) {
    if (!first) json += ',';
    first = false;
    json_string(json, name);
    json += ':';
    json_string(json, value);
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
