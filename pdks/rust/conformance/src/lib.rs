//! The Rust PDK's conformance plug-in: every export of `conformance/CONTRACT.md`, written with
//! the PDK's public API only.

use extism_pdk::{config, export, host_fn, http, json, log, var, Error};

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

fn json_sum(input: Vec<u8>) -> Result<json::Value, Error> {
    let input = json::parse_bytes(&input).map_err(|why| Error::new(format!("json_sum: {}", why)))?;
    let member = |key| input.get(key).and_then(json::Value::as_i64);
    let (a, b) = match (member("a"), member("b")) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err(Error::new("json_sum: expected an object with integer members \"a\" and \"b\"")),
    };
    let sum = a
        .checked_add(b)
        .ok_or_else(|| Error::new("json_sum: a + b overflows 64 bits"))?;
    Ok(json::Value::object([("sum", sum.into())]))
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
