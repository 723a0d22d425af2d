//! The Rust PDK's conformance plug-in: every export of `conformance/CONTRACT.md`, written with
//! the PDK's public API only.

use extism_pdk::{config, export, host_fn, http, log, var, Error};

fn echo(input: Vec<u8>) -> Result<Vec<u8>, Error> {
    Ok(input)
}

fn greet(name: String) -> Result<String, Error> {
    Ok(format!("Hello, {}!", name))
}

fn reverse(mut input: Vec<u8>) -> Result<Vec<u8>, Error> {
    input.reverse();
    Ok(input)
}

fn input_size(input: Vec<u8>) -> Result<String, Error> {
    Ok(input.len().to_string())
}

fn json_sum(input: Vec<u8>) -> Result<String, Error> {
    let (a, b) = json::parse_ab(&input).map_err(|why| Error::new(format!("json_sum: {}", why)))?;
    let sum = a
        .checked_add(b)
        .ok_or_else(|| Error::new("json_sum: a + b overflows 64 bits"))?;
    Ok(format!("{{\"sum\": {}}}", sum))
}

fn config(key: String) -> Result<String, Error> {
    config::get(&key).ok_or_else(|| Error::new(format!("config key '{}' is not set", key)))
}

fn var_counter(_: ()) -> Result<String, Error> {
    let count: u64 = match var::get("counter") {
        Some(bytes) => String::from_utf8(bytes)?.parse()?,
        None => 0,
    };
    let count = (count + 1).to_string();
    var::set("counter", &count);
    Ok(count)
}

fn var_set(input: Vec<u8>) -> Result<(), Error> {
    let at = input
        .iter()
        .position(|&b| b == b'=')
        .ok_or_else(|| Error::new("var_set: expected <key>=<value>"))?;
    var::set(std::str::from_utf8(&input[..at])?, &input[at + 1..]);
    Ok(())
}

fn var_get(key: String) -> Result<Vec<u8>, Error> {
    var::get(&key).ok_or_else(|| Error::new(format!("var '{}' is not set", key)))
}

fn var_delete(key: String) -> Result<(), Error> {
    var::remove(&key);
    Ok(())
}

fn fail(message: String) -> Result<(), Error> {
    Err(Error::new(message))
}

fn trap(_: ()) -> Result<(), Error> {
    panic!("trap requested")
}

fn http_get(url: String) -> Result<Vec<u8>, Error> {
    let response = http::Request::new("GET", &url)
        .header("X-Conformance", "1")
        .send();
    Ok(status_and_body(response))
}

fn http_post(body: Vec<u8>) -> Result<Vec<u8>, Error> {
    let url =
        config::get("url").ok_or_else(|| Error::new("http_post: config key 'url' is not set"))?;
    let response = http::Request::new("POST", &url)
        .header("X-Conformance", "1")
        .header("Content-Type", "text/plain")
        .body(body)
        .send();
    Ok(status_and_body(response))
}

fn status_and_body(response: http::Response) -> Vec<u8> {
    let mut out = format!("{}\n", response.status()).into_bytes();
    out.extend_from_slice(response.body());
    out
}

host_fn! {
    /// The runner's host function: its input's bytes reversed.
    fn reverse_bytes;
}

fn host_reverse(input: Vec<u8>) -> Result<Vec<u8>, Error> {
    Ok(reverse_bytes(&input))
}

fn log(message: String) -> Result<(), Error> {
    log::debug(&format!("debug: {}", message));
    log::info(&format!("info: {}", message));
    log::warn(&format!("warn: {}", message));
    log::error(&format!("error: {}", message));
    Ok(())
}

fn spin(_: ()) -> Result<(), Error> {
    loop {
        std::hint::spin_loop();
    }
}

fn grow(pages: String) -> Result<&'static str, Error> {
    let pages: usize = pages.trim().parse()?;
    if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
        return Err(Error::new(format!(
            "grow: memory cannot grow by {} pages",
            pages
        )));
    }
    Ok("ok")
}

fn large_output(count: String) -> Result<Vec<u8>, Error> {
    let count: usize = count.trim().parse()?;
    Ok((0..count).map(|i| (i % 251) as u8).collect())
}

export!(
    echo,
    greet,
    reverse,
    input_size,
    json_sum,
    config,
    var_counter,
    var_set,
    var_get,
    var_delete,
    fail,
    trap,
    http_get,
    http_post,
    host_reverse,
    log,
    spin,
    grow,
    large_output,
);

/// Just enough JSON to read `{"a": <int>, "b": <int>}`: the other members may hold any value.
mod json {
    pub fn parse_ab(text: &[u8]) -> Result<(i64, i64), String> {
        let mut p = Parser { text, at: 0 };
        let (mut a, mut b) = (None, None);
        p.skip_ws();
        p.expect(b'{')?;
        p.skip_ws();
        if p.peek() == Some(b'}') {
            p.at += 1;
        } else {
            loop {
                p.skip_ws();
                let key = p.string()?;
                p.skip_ws();
                p.expect(b':')?;
                p.skip_ws();
                match key.as_str() {
                    "a" => a = Some(p.integer()?),
                    "b" => b = Some(p.integer()?),
                    _ => p.value()?,
                }
                p.skip_ws();
                match p.next() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(p.error("expected ',' or '}'")),
                }
            }
        }
        p.skip_ws();
        if p.at != text.len() {
            return Err(p.error("trailing characters after the object"));
        }
        match (a, b) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err("the object needs integer members \"a\" and \"b\"".to_string()),
        }
    }

    struct Parser<'a> {
        text: &'a [u8],
        at: usize,
    }

    impl Parser<'_> {
        fn error(&self, what: &str) -> String {
            format!("{} at byte {}", what, self.at)
        }

        fn peek(&self) -> Option<u8> {
            self.text.get(self.at).copied()
        }

        fn next(&mut self) -> Option<u8> {
            let c = self.peek();
            self.at += 1;
            c
        }

        fn expect(&mut self, c: u8) -> Result<(), String> {
            if self.peek() == Some(c) {
                self.at += 1;
                Ok(())
            } else {
                Err(self.error(&format!("expected '{}'", c as char)))
            }
        }

        fn skip_ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.at += 1;
            }
        }

        fn string(&mut self) -> Result<String, String> {
            self.expect(b'"')?;
            let mut out = Vec::new();
            loop {
                match self.next() {
                    Some(b'"') => break,
                    Some(b'\\') => {
                        let c = match self.next() {
                            Some(b'"') => '"',
                            Some(b'\\') => '\\',
                            Some(b'/') => '/',
                            Some(b'b') => '\u{8}',
                            Some(b'f') => '\u{c}',
                            Some(b'n') => '\n',
                            Some(b'r') => '\r',
                            Some(b't') => '\t',
                            Some(b'u') => self.unicode_escape()?,
                            _ => return Err(self.error("bad escape")),
                        };
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    Some(c) if c >= 0x20 => out.push(c),
                    _ => return Err(self.error("unterminated string")),
                }
            }
            String::from_utf8(out).map_err(|_| self.error("string is not UTF-8"))
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let digits = self
                .text
                .get(self.at..self.at + 4)
                .ok_or_else(|| self.error("short \\u escape"))?;
            let digits = std::str::from_utf8(digits).map_err(|_| self.error("bad \\u escape"))?;
            let value =
                u32::from_str_radix(digits, 16).map_err(|_| self.error("bad \\u escape"))?;
            self.at += 4;
            Ok(value)
        }

        fn unicode_escape(&mut self) -> Result<char, String> {
            let high = self.hex4()?;
            let code = if (0xD800..0xDC00).contains(&high) {
                if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                    return Err(self.error("unpaired surrogate"));
                }
                let low = self.hex4()?;
                if !(0xDC00..0xE000).contains(&low) {
                    return Err(self.error("unpaired surrogate"));
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            } else {
                high
            };
            char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate"))
        }

        /// A number as JSON writes it: `-? int frac? exp?`; returns its text and whether it is
        /// an integer (no fraction, no exponent).
        fn number(&mut self) -> Result<(&[u8], bool), String> {
            let start = self.at;
            if self.peek() == Some(b'-') {
                self.at += 1;
            }
            match self.peek() {
                Some(b'0') => self.at += 1,
                Some(b'1'..=b'9') => self.digits(),
                _ => return Err(self.error("bad number")),
            }
            let mut integer = true;
            if self.peek() == Some(b'.') {
                self.at += 1;
                self.some_digits()?;
                integer = false;
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.at += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.at += 1;
                }
                self.some_digits()?;
                integer = false;
            }
            Ok((&self.text[start..self.at], integer))
        }

        fn digits(&mut self) {
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.at += 1;
            }
        }

        fn some_digits(&mut self) -> Result<(), String> {
            let start = self.at;
            self.digits();
            if self.at == start {
                return Err(self.error("bad number"));
            }
            Ok(())
        }

        fn integer(&mut self) -> Result<i64, String> {
            let start = self.at;
            let value = match self.number() {
                Ok((text, true)) => std::str::from_utf8(text).ok().and_then(|s| s.parse().ok()),
                _ => None,
            };
            value.ok_or_else(|| format!("expected a 64-bit integer at byte {}", start))
        }

        /// Skip any JSON value.
        fn value(&mut self) -> Result<(), String> {
            match self.peek() {
                Some(b'"') => self.string().map(drop),
                Some(open @ (b'{' | b'[')) => {
                    let close = if open == b'{' { b'}' } else { b']' };
                    self.at += 1;
                    self.skip_ws();
                    if self.peek() == Some(close) {
                        self.at += 1;
                        return Ok(());
                    }
                    loop {
                        self.skip_ws();
                        if open == b'{' {
                            self.string()?;
                            self.skip_ws();
                            self.expect(b':')?;
                            self.skip_ws();
                        }
                        self.value()?;
                        self.skip_ws();
                        match self.next() {
                            Some(b',') => continue,
                            Some(c) if c == close => return Ok(()),
                            _ => return Err(self.error("expected ',' or a closing bracket")),
                        }
                    }
                }
                Some(b't') => self.literal("true"),
                Some(b'f') => self.literal("false"),
                Some(b'n') => self.literal("null"),
                Some(b'-' | b'0'..=b'9') => self.number().map(drop),
                _ => Err(self.error("expected a JSON value")),
            }
        }

        fn literal(&mut self, word: &str) -> Result<(), String> {
            if self.text[self.at..].starts_with(word.as_bytes()) {
                self.at += word.len();
                Ok(())
            } else {
                Err(self.error("expected a JSON value"))
            }
        }
    }
}
