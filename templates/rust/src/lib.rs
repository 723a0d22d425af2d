//! The plug-in's exports. Each is a function `fn(I) -> Result<O, Error>` listed in `export!`:
//! the input arrives as `I` (`String`, `Vec<u8>` or `()`), the output leaves as `O`, and an
//! `Err` becomes the call's error message. The API is `extism_pdk`, the Rust PDK.

use extism_pdk::json::{self, Value};
use extism_pdk::{export, Error};

/// `{"name": "Ada"}` → `{"greeting": "Hello, Ada!"}`
fn greet(input: Vec<u8>) -> Result<Value, Error> {
    let input = match json::parse_bytes(&input) {
        Ok(input @ Value::Object(_)) => input,
        Ok(_) => return Err(Error::new("greet: the input is not a JSON object")),
        Err(why) => return Err(Error::new(format!("greet: the input is not a JSON object ({})", why))),
    };
    let name = match input.get("name") {
        Some(Value::String(name)) => name,
        Some(_) => return Err(Error::new("greet: \"name\" must be a string")),
        None => return Err(Error::new("greet: missing \"name\" (a string)")),
    };
    Ok(Value::object([("greeting", format!("Hello, {}!", name).into())]))
}

export!(greet);
