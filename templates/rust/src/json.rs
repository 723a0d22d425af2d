//! Just enough JSON for a plug-in's input: one member of a top-level object, as a string.
//!
//! The plug-in builds with `rustc` alone (no cargo, no crates.io), so serde is not at hand. This
//! reader checks the whole text against RFC 8259 (nested values are validated and skipped, up to
//! `MAX_DEPTH` levels), compares keys after decoding their escapes, lets the last of duplicate
//! keys win, and decodes a lone surrogate escape (which has no `char`) to U+FFFD.

/// How deeply arrays and objects may nest inside the top-level object.
const MAX_DEPTH: usize = 128;

/// What the object holds under a key.
pub enum Member {
    String(String),
    Missing,
    NotAString,
}

/// The member `key` of the JSON object that is the whole of `text`; `Err` says why `text` is
/// not one well-formed JSON object.
pub fn string_member(text: &str, key: &str) -> Result<Member, String> {
    let mut parser = Parser { text, at: 0 };
    let mut found = Member::Missing;
    parser.expect(b'{')?;
    if !parser.eat(b'}') {
        loop {
            let name = parser.string()?;
            parser.expect(b':')?;
            parser.space();
            let value = if parser.peek() == Some(b'"') {
                Member::String(parser.string()?)
            } else {
                parser.skip_value(1)?;
                Member::NotAString
            };
            if name == key {
                found = value;
            }
            if !parser.eat(b',') {
                parser.expect(b'}')?;
                break;
            }
        }
    }
    parser.space();
    if parser.at < text.len() {
        return Err(parser.error("unexpected text after the object"));
    }
    Ok(found)
}

/// `text` as a JSON string literal, quotes included.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn error(&self, what: &str) -> String {
        match self.peek() {
            Some(_) => format!("{} at byte {}", what, self.at),
            None => format!("{} at the end of the input", what),
        }
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
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", byte as char)))
        }
    }

    fn word(&mut self, word: &str) -> Result<(), String> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    /// A string literal, decoded.
    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            let start = self.at;
            while let Some(byte) = self.peek() {
                if byte == b'"' || byte == b'\\' || byte < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // Both ends are ASCII bytes (or the end), so the slice is whole UTF-8 characters.
            out.push_str(&self.text[start..self.at]);
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
    fn escape(&mut self) -> Result<char, String> {
        let c = match self.peek() {
            Some(c) => c,
            None => return Err(self.error("unterminated escape")),
        };
        let decoded = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                self.at += 1;
                let unit = self.hex4()?;
                if (0xD800..0xDC00).contains(&unit) && self.text[self.at..].starts_with("\\u") {
                    let rewind = self.at;
                    self.at += 2;
                    let low = self.hex4()?;
                    if (0xDC00..0xE000).contains(&low) {
                        return Ok(char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)).unwrap());
                    }
                    self.at = rewind; // not a pair: the next escape is read on its own
                }
                return Ok(char::from_u32(unit).unwrap_or('\u{FFFD}'));
            }
            _ => return Err(self.error("invalid escape")),
        };
        self.at += 1;
        Ok(decoded)
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = match self.text.as_bytes().get(self.at..self.at + 4) {
            Some(digits) => digits,
            None => return Err(self.error("short \\u escape")),
        };
        let mut value = 0;
        for &digit in digits {
            match (digit as char).to_digit(16) {
                Some(d) => value = value * 16 + d,
                None => return Err(self.error("invalid \\u escape")),
            }
        }
        self.at += 4;
        Ok(value)
    }

    fn digits(&mut self) -> bool {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at > start
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let mut ok = if self.peek() == Some(b'0') {
            self.at += 1;
            true
        } else {
            self.digits()
        };
        if ok && self.peek() == Some(b'.') {
            self.at += 1;
            ok = self.digits();
        }
        if ok && matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            ok = self.digits();
        }
        if ok {
            Ok(())
        } else {
            Err(self.error("invalid number"))
        }
    }

    /// Validate and skip any value; `depth` counts the containers around it.
    fn skip_value(&mut self, depth: usize) -> Result<(), String> {
        self.space();
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.word("true"),
            Some(b'f') => self.word("false"),
            Some(b'n') => self.word("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(open @ (b'{' | b'[')) => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("nested too deeply"));
                }
                self.at += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                if self.eat(close) {
                    return Ok(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.expect(b':')?;
                    }
                    self.skip_value(depth + 1)?;
                    if !self.eat(b',') {
                        return self.expect(close);
                    }
                }
            }
            _ => Err(self.error("expected a JSON value")),
        }
    }
}
