//! A small JSON reader and writer for plug-in inputs and outputs (no serde here).
//!
//! [`parse`] reads a whole text into a [`Value`] tree, checking it against RFC 8259: strings
//! must be well-formed UTF-8, numbers must have JSON's syntax, and nothing but whitespace may
//! follow the value. Arrays and objects may nest [`MAX_DEPTH`] levels deep. A lone surrogate
//! escape such as `"\ud800"` (which has no UTF-8 form) decodes to U+FFFD. Objects keep their
//! members in order, duplicates included; [`Value::get`] finds the last one, as most parsers do.
//!
//! [`Value`]'s `Display` writes compact JSON, so `value.to_string()` is its JSON text, and a
//! `Value` can be an export's output directly.
//!
//! ```ignore
//! use extism_pdk::{json, Error};
//!
//! fn greet(input: Vec<u8>) -> Result<json::Value, Error> {
//!     let input = json::parse_bytes(&input)?;
//!     let name = input.get("name").and_then(json::Value::as_str).unwrap_or("world");
//!     Ok(json::Value::object([("greeting", format!("Hello, {}!", name).into())]))
//! }
//! ```

use std::fmt;

/// How deeply arrays and objects may nest (the parser recurses once per level).
pub const MAX_DEPTH: usize = 128;

/// A JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, kept as written (see [`Number`]).
    Number(Number),
    /// A string, decoded.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object's members in order (duplicate keys included).
    Object(Vec<(String, Value)>),
}

/// A JSON number, kept as its text so that no precision is lost until you pick a type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// The number as written, e.g. `"-1.5e3"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nearest `f64`.
    pub fn as_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }

    /// The number, when it is written as an integer (no fraction or exponent) that fits `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// The number, when it is written as an integer that fits `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

impl Value {
    /// An object with `members`, e.g. `Value::object([("sum", 42.into())])`.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The member `key` of an object (the last one, if the key repeats); `None` when the value
    /// is not an object or has no such member.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as the nearest `f64`, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.as_f64()),
            _ => None,
        }
    }

    /// The number, if this is an integer that fits `i64` (see [`Number::as_i64`]).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Compact JSON text. Numbers that are not finite (`f64::NAN`, infinities) are written `null`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
            Value::Number(n) => f.write_str(&n.0),
            Value::String(s) => write_string(f, s),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    f.write_str(if i == 0 { "" } else { "," })?;
                    fmt::Display::fmt(item, f)?;
                }
                f.write_str("]")
            }
            Value::Object(members) => {
                f.write_str("{")?;
                for (i, (key, value)) in members.iter().enumerate() {
                    f.write_str(if i == 0 { "" } else { "," })?;
                    write_string(f, key)?;
                    f.write_str(":")?;
                    fmt::Display::fmt(value, f)?;
                }
                f.write_str("}")
            }
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Number(n.to_string()))
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::from(n as i64)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(Number(n.to_string()))
    }
}

impl From<f64> for Value {
    /// `NAN` and the infinities, which JSON cannot write, become `null`.
    fn from(n: f64) -> Value {
        if n.is_finite() {
            Value::Number(Number(format!("{:?}", n))) // shortest round-trip form, e.g. 1e300
        } else {
            Value::Null
        }
    }
}

/// `text` as a JSON string literal, quotes included: `quote("a\"b")` is `"a\"b"` with the quote
/// escaped.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    write_string(&mut out, text).expect("writing to a String");
    out
}

fn write_string(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.write_str("\"")?;
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        // Every escaped byte is ASCII, so these slices fall on character boundaries.
        out.write_str(text.get(start..i).unwrap_or_default())?;
        if short.is_empty() {
            let digits = [b'0', b'0', HEX[(byte >> 4) as usize], HEX[(byte & 15) as usize]];
            out.write_str("\\u")?;
            out.write_str(std::str::from_utf8(&digits).unwrap_or_default())?;
        } else {
            out.write_str(short)?;
        }
        start = i + 1;
    }
    out.write_str(text.get(start..).unwrap_or_default())?;
    out.write_str("\"")
}

/// Why a text is not JSON: what was expected, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    message: &'static str,
    offset: usize,
}

impl ParseError {
    /// What went wrong, e.g. `"expected ':'"`.
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// The byte offset in the text where it went wrong.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// The JSON value that is the whole of `text`.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    parse_bytes(text.as_bytes())
}

/// The JSON value that is the whole of `bytes` (UTF-8 JSON text, e.g. a call's `input()`).
pub fn parse_bytes(bytes: &[u8]) -> Result<Value, ParseError> {
    let mut parser = Parser { text: bytes, at: 0 };
    let value = parser.value(0)?;
    parser.space();
    if parser.at < bytes.len() {
        return Err(parser.error("unexpected text after the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: &'static str) -> ParseError {
        ParseError { message, offset: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Skip whitespace, then consume `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        let found = self.peek() == Some(byte);
        self.at += found as usize;
        found
    }

    fn expect(&mut self, byte: u8, message: &'static str) -> Result<(), ParseError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(message))
        }
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, ParseError> {
        if self.text[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    /// Any value, after optional whitespace; `depth` counts the containers around it.
    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.space();
        match self.peek() {
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(open @ (b'[' | b'{')) => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nested too deeply"));
                }
                self.at += 1;
                if open == b'[' {
                    let mut items = Vec::new();
                    if !self.eat(b']') {
                        loop {
                            items.push(self.value(depth + 1)?);
                            if !self.eat(b',') {
                                self.expect(b']', "expected ',' or ']'")?;
                                break;
                            }
                        }
                    }
                    Ok(Value::Array(items))
                } else {
                    let mut members = Vec::new();
                    if !self.eat(b'}') {
                        loop {
                            self.space();
                            if self.peek() != Some(b'"') {
                                return Err(self.error("expected a string key"));
                            }
                            let key = self.string()?;
                            self.expect(b':', "expected ':'")?;
                            members.push((key, self.value(depth + 1)?));
                            if !self.eat(b',') {
                                self.expect(b'}', "expected ',' or '}'")?;
                                break;
                            }
                        }
                    }
                    Ok(Value::Object(members))
                }
            }
            _ => Err(self.error("expected a JSON value")),
        }
    }

    /// A string literal at the cursor (its opening quote), decoded.
    fn string(&mut self) -> Result<String, ParseError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The run ends at an ASCII byte, so it holds whole characters if it is UTF-8 at all.
            match std::str::from_utf8(&self.text[start..self.at]) {
                Ok(run) => out.push_str(run),
                Err(e) => {
                    self.at = start + e.valid_up_to();
                    return Err(self.error("invalid UTF-8"));
                }
            }
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// The character of the escape after a backslash.
    fn escape(&mut self) -> Result<char, ParseError> {
        let decoded = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.at += 1;
                let unit = self.hex4()?;
                if (0xD800..0xDC00).contains(&unit) && self.text[self.at..].starts_with(b"\\u") {
                    let rewind = self.at;
                    self.at += 2;
                    match self.hex4()? {
                        low @ 0xDC00..=0xDFFF => {
                            let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                            return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        }
                        _ => self.at = rewind, // not a pair: the next escape is read on its own
                    }
                }
                return Ok(char::from_u32(unit).unwrap_or('\u{FFFD}'));
            }
            _ => return Err(self.error("invalid escape")),
        };
        self.at += 1;
        Ok(decoded)
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut value = 0;
        for _ in 0..4 {
            match self.peek().and_then(|digit| (digit as char).to_digit(16)) {
                Some(digit) => value = value * 16 + digit,
                None => return Err(self.error("invalid \\u escape")),
            }
            self.at += 1;
        }
        Ok(value)
    }

    fn digits(&mut self) -> Result<(), ParseError> {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        if self.at > start {
            Ok(())
        } else {
            Err(self.error("expected a digit"))
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.at;
        self.at += (self.peek() == Some(b'-')) as usize;
        if self.peek() == Some(b'0') {
            self.at += 1;
        } else {
            self.digits()?;
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            self.at += matches!(self.peek(), Some(b'+' | b'-')) as usize;
            self.digits()?;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).unwrap_or_default(); // ASCII
        Ok(Value::Number(Number(text.to_string())))
    }
}
