//! The plug-in's exports. Each is a function `fn(I) -> Result<O, Error>` listed in `export!`:
//! the input arrives as `I` (`String`, `Vec<u8>` or `()`), the output leaves as `O`, and an
//! `Err` becomes the call's error message. The API is `extism_pdk`, the Rust PDK.

use extism_pdk::{export, Error};

mod json;

/// `{"name": "Ada"}` → `{"greeting": "Hello, Ada!"}`
fn greet(input: String) -> Result<String, Error> {
    let name = match json::string_member(&input, "name") {
        Ok(json::Member::String(name)) => name,
        Ok(json::Member::Missing) => return Err(Error::new("greet: missing \"name\" (a string)")),
        Ok(json::Member::NotAString) => return Err(Error::new("greet: \"name\" must be a string")),
        Err(why) => return Err(Error::new(format!("greet: the input is not a JSON object ({})", why))),
    };
    let greeting = format!("Hello, {}!", name);
    Ok(format!("{{\"greeting\":{}}}", json::quote(&greeting)))
}

export!(greet);
