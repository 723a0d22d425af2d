// Just enough JSON for a plugin's input: read one member of a top-level object, as a string.
//
// The C++ PDK has no JSON reader, and a full library is more than a plugin with a few string
// arguments needs. This one checks the whole text against RFC 8259 (nested values are validated
// and skipped, up to kMaxDepth levels; strings must be well-formed UTF-8), compares keys after
// decoding their escapes, lets the last of duplicate keys win, and decodes a lone surrogate
// escape (which has no UTF-8 form) to U+FFFD. No exceptions, as the PDK builds with
// -fno-exceptions: results carry a status.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace json {

enum class Status { ok, missing, wrong_type, invalid };

struct StringMember {
  Status status;
  std::string value;  // decoded UTF-8 when status == ok
};

// `s` as a JSON string literal, quotes included (s is UTF-8; other bytes are copied as they are).
inline std::string quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + '"';
}

class Reader {
 public:
  static constexpr int kMaxDepth = 128;

  explicit Reader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  // The member `key` of the object that must be the whole text.
  StringMember string_member(std::string_view key) {
    std::string_view found;  // the raw value text of the (last) member named `key`
    bool have = false;
    if (!consume('{')) return {Status::invalid, {}};
    if (!consume('}')) {
      do {
        std::string name;
        space();
        if (!string(&name) || !consume(':')) return {Status::invalid, {}};
        space();
        const char* start = p_;
        if (!skip_value(1)) return {Status::invalid, {}};
        if (name == key) {
          found = std::string_view(start, static_cast<size_t>(p_ - start));
          have = true;
        }
      } while (consume(','));
      if (!consume('}')) return {Status::invalid, {}};
    }
    space();
    if (p_ != end_) return {Status::invalid, {}};
    if (!have) return {Status::missing, {}};
    if (found.front() != '"') return {Status::wrong_type, {}};
    Reader value(found);
    StringMember result{Status::ok, {}};
    value.string(&result.value);
    return result;
  }

 private:
  const char* p_;
  const char* end_;

  int peek() const { return p_ < end_ ? static_cast<unsigned char>(*p_) : -1; }

  void space() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++p_;
  }

  bool consume(char c) {
    space();
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++p_;
    return true;
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  bool digits() {
    const char* start = p_;
    while (peek() >= '0' && peek() <= '9') ++p_;
    return p_ > start;
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() {
    if (peek() == '-') ++p_;
    if (peek() == '0') {
      ++p_;
    } else if (!digits()) {
      return false;
    }
    if (peek() == '.') {
      ++p_;
      if (!digits()) return false;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++p_;
      if (peek() == '+' || peek() == '-') ++p_;
      if (!digits()) return false;
    }
    return true;
  }

  bool hex4(uint32_t* out) {
    if (end_ - p_ < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i, ++p_) {
      const char c = *p_;
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
    if (n == 0 || end_ - p_ < n - 1) return false;
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

  // A string literal at the cursor, decoded into `out`.
  bool string(std::string* out) {
    if (peek() != '"') return false;
    ++p_;
    for (;;) {
      const int c = peek();
      if (c < 0x20) return false;  // the end of the text, or a raw control character
      ++p_;
      if (c == '"') return true;
      if (c >= 0x80) {
        if (!utf8_tail(static_cast<unsigned char>(c), out)) return false;
        continue;
      }
      if (c != '\\') {
        *out += static_cast<char>(c);
        continue;
      }
      const int e = peek();
      if (e < 0) return false;
      ++p_;
      switch (e) {
        case '"': case '\\': case '/': *out += static_cast<char>(e); continue;
        case 'b': *out += '\b'; continue;
        case 'f': *out += '\f'; continue;
        case 'n': *out += '\n'; continue;
        case 'r': *out += '\r'; continue;
        case 't': *out += '\t'; continue;
        case 'u': break;
        default: return false;
      }
      uint32_t cp;
      if (!hex4(&cp)) return false;
      if (cp >= 0xD800 && cp <= 0xDBFF && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
        const char* rewind = p_;
        uint32_t low;
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

  // Any value at the cursor (after whitespace), validated and skipped.
  bool skip_value(int depth) {
    space();
    switch (peek()) {
      case '"': {
        std::string ignored;
        return string(&ignored);
      }
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      case '{':
      case '[': {
        const char close = *p_ == '{' ? '}' : ']';
        if (depth >= kMaxDepth) return false;
        ++p_;
        if (consume(close)) return true;
        do {
          if (close == '}') {
            std::string ignored;
            space();
            if (!string(&ignored) || !consume(':')) return false;
          }
          if (!skip_value(depth + 1)) return false;
        } while (consume(','));
        return consume(close);
      }
      default: return number();
    }
  }
};

// The string member `key` of the JSON object `text`.
inline StringMember string_member(std::string_view text, std::string_view key) {
  return Reader(text).string_member(key);
}

}  // namespace json
