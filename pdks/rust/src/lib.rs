//! Write [Extism](https://extism.org) plug-ins in Rust.
//!
//! A plug-in is a `cdylib` for `wasm32-unknown-unknown` whose exports the host calls by name.
//! Write each export as an ordinary function and hand it to [`export!`]:
//!
//! ```ignore
//! use extism_pdk::{config, export, Error};
//!
//! fn greet(name: String) -> Result<String, Error> {
//!     let greeting = config::get("greeting").unwrap_or_else(|| "Hello".to_string());
//!     Ok(format!("{}, {}!", greeting, name))
//! }
//!
//! export!(greet);
//! ```
//!
//! The function's argument is the call's input ([`FromInput`]: `Vec<u8>`, `String` or `()`), its
//! `Ok` value the call's output ([`IntoOutput`]), and its `Err` the call's error message. A panic
//! also reaches the host as the call's error message. JSON inputs and outputs: [`json`].

#![warn(missing_docs)]

pub mod http;
pub mod json;
mod memory;
pub mod sys;

pub use memory::Memory;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// The error of a plug-in function: a message for the host.
///
/// Every `std::error::Error` converts into it, so `?` works on parse and UTF-8 errors.
pub struct Error {
    message: String,
}

impl Error {
    /// An error carrying `message`.
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }

    /// The message the host will see.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Error {
        Error::new(error.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.message, f)
    }
}

/// The call's input bytes.
pub fn input() -> Vec<u8> {
    let length = unsafe { sys::input_length() } as usize;
    let mut data = vec![0u8; length];
    let mut words = data.chunks_exact_mut(8);
    let mut at = 0u64;
    for word in &mut words {
        word.copy_from_slice(&unsafe { sys::input_load_u64(at) }.to_le_bytes());
        at += 8;
    }
    for byte in words.into_remainder() {
        *byte = unsafe { sys::input_load_u8(at) };
        at += 1;
    }
    data
}

/// The call's input as UTF-8 text.
pub fn input_string() -> Result<String, Error> {
    String::from_utf8(input())
        .map_err(|e| Error::new(format!("input is not UTF-8: {}", e.utf8_error())))
}

/// Set the call's output (the last call wins).
pub fn output(data: impl AsRef<[u8]>) {
    let memory = Memory::from_bytes(data.as_ref());
    unsafe { sys::output_set(memory.offset(), memory.len()) };
}

/// Set the call's error message; the export must then return non-zero. [`run`] does both.
fn set_error(message: &str) {
    let memory = Memory::from_bytes(message.as_bytes());
    unsafe { sys::error_set(memory.offset()) };
}

/// A value an exported function takes as its argument, read from the call's input.
pub trait FromInput: Sized {
    /// Read the input.
    fn from_input() -> Result<Self, Error>;
}

impl FromInput for Vec<u8> {
    fn from_input() -> Result<Self, Error> {
        Ok(input())
    }
}

impl FromInput for String {
    fn from_input() -> Result<Self, Error> {
        input_string()
    }
}

/// The input is ignored (not even read).
impl FromInput for () {
    fn from_input() -> Result<Self, Error> {
        Ok(())
    }
}

/// A value an exported function returns, written as the call's output.
pub trait IntoOutput {
    /// Write the output.
    fn into_output(self);
}

impl IntoOutput for Vec<u8> {
    fn into_output(self) {
        output(self)
    }
}

impl IntoOutput for &[u8] {
    fn into_output(self) {
        output(self)
    }
}

impl IntoOutput for String {
    fn into_output(self) {
        output(self)
    }
}

impl IntoOutput for &str {
    fn into_output(self) {
        output(self)
    }
}

/// The value's JSON text (see [`json`]).
impl IntoOutput for json::Value {
    fn into_output(self) {
        output(self.to_string())
    }
}

/// No output at all.
impl IntoOutput for () {
    fn into_output(self) {}
}

/// Run `f` as the body of an export and return the export's status: read the input, call `f`,
/// write its output (`Ok`, status 0) or its error message (`Err`, status 1).
///
/// [`export!`] writes the exported wrapper for you; call `run` yourself when you need to:
///
/// ```ignore
/// #[no_mangle]
/// pub extern "C" fn shout() -> i32 {
///     extism_pdk::run(|text: String| Ok::<_, extism_pdk::Error>(text.to_uppercase()))
/// }
/// ```
pub fn run<I, O, F>(f: F) -> i32
where
    I: FromInput,
    O: IntoOutput,
    F: FnOnce(I) -> Result<O, Error>,
{
    install_panic_hook();
    match I::from_input().and_then(f) {
        Ok(value) => {
            value.into_output();
            0
        }
        Err(error) => {
            set_error(&error.message);
            1
        }
    }
}

/// Report panics to the host as the call's error: `<message> (panicked at <file>:<line>:<column>)`.
/// The panic then aborts the call with a trap.
fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if !INSTALLED.swap(true, Ordering::Relaxed) {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("panic");
            match info.location() {
                Some(at) => set_error(&format!(
                    "{} (panicked at {}:{}:{})",
                    message,
                    at.file(),
                    at.line(),
                    at.column()
                )),
                None => set_error(message),
            }
        }))
    }
}

/// Export functions to the host under their own names.
///
/// Each function takes one [`FromInput`] argument and returns `Result<impl IntoOutput, Error>`:
///
/// ```ignore
/// fn echo(input: Vec<u8>) -> Result<Vec<u8>, extism_pdk::Error> {
///     Ok(input)
/// }
/// fn count(text: String) -> Result<String, extism_pdk::Error> {
///     Ok(text.chars().count().to_string())
/// }
/// extism_pdk::export!(echo, count);
/// ```
#[macro_export]
macro_rules! export {
    ($($name:ident),+ $(,)?) => {
        $(
            const _: () = {
                #[export_name = stringify!($name)]
                extern "C" fn export() -> i32 {
                    $crate::run($name)
                }
            };
        )+
    };
}

/// Declare host functions of the common shape — one kernel block in, one block out — as safe
/// Rust functions `fn(&[u8]) -> Vec<u8>` (module `extism:host/user`).
///
/// ```ignore
/// extism_pdk::host_fn! {
///     /// Provided by the host: the input's bytes reversed.
///     fn reverse_bytes;
/// }
/// let reversed: Vec<u8> = reverse_bytes(b"abc");
/// ```
///
/// The same shape from another module — a linked plugin (plugin.yaml `dependencies:`), imported
/// under its plugin name — with the module first:
///
/// ```ignore
/// extism_pdk::host_fn! {
///     "@acme/units" =>
///     /// Provided by the linked plugin @acme/units.
///     fn label;
/// }
/// ```
///
/// For other signatures declare the import yourself (numbers pass as they are, blocks as
/// [`Memory`] offsets): `#[link(wasm_import_module = "@acme/units")] extern "C" { fn c_to_f(c: f64) -> f64; }`.
#[macro_export]
macro_rules! host_fn {
    ($module:literal => $($(#[$attr:meta])* $vis:vis fn $name:ident;)+) => {
        $(
            $(#[$attr])*
            $vis fn $name(input: &[u8]) -> ::std::vec::Vec<u8> {
                #[link(wasm_import_module = $module)]
                extern "C" {
                    fn $name(input: u64) -> u64;
                }
                $crate::call_host(input, |offset| unsafe { $name(offset) })
            }
        )+
    };
    ($($(#[$attr:meta])* $vis:vis fn $name:ident;)+) => {
        $crate::host_fn! { "extism:host/user" => $($(#[$attr])* $vis fn $name;)+ }
    };
}

/// Call a block-in, block-out host function (the body of [`host_fn!`]'s wrappers): put `input`
/// in a block, call `f` with its offset, return the bytes of the block `f` returns (empty for 0).
#[doc(hidden)]
pub fn call_host(input: &[u8], f: impl FnOnce(u64) -> u64) -> Vec<u8> {
    let argument = Memory::from_bytes(input);
    let result = Memory::find(f(argument.offset()));
    let bytes = result.map(|m| m.load()).unwrap_or_default();
    if let Some(result) = result {
        if result.offset() != argument.offset() {
            result.free();
        }
    }
    argument.free();
    bytes
}

/// Load and free a block the kernel handed back (0 = absent).
fn take_block(offset: u64) -> Option<Vec<u8>> {
    Memory::find(offset).map(|memory| {
        let data = memory.load();
        memory.free();
        data
    })
}

/// The plug-in's configuration: read-only strings the host sets in the manifest.
pub mod config {
    use crate::{sys, take_block, Memory};

    /// The value of config key `key`, or `None` when the host did not set it.
    pub fn get(key: &str) -> Option<String> {
        let key = Memory::from_bytes(key.as_bytes());
        let value = take_block(unsafe { sys::config_get(key.offset()) });
        key.free();
        value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Vars: bytes kept by the host between calls for as long as the plug-in instance lives.
pub mod var {
    use crate::{sys, take_block, Memory};

    /// The value of var `key`, or `None` when it is not set.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        let key = Memory::from_bytes(key.as_bytes());
        let value = take_block(unsafe { sys::var_get(key.offset()) });
        key.free();
        value
    }

    /// Set var `key` to `value`.
    pub fn set(key: &str, value: impl AsRef<[u8]>) {
        let key = Memory::from_bytes(key.as_bytes());
        let value = Memory::from_bytes(value.as_ref());
        unsafe { sys::var_set(key.offset(), value.offset()) };
        key.free();
        value.free();
    }

    /// Remove var `key` (nothing happens when it is not set).
    pub fn remove(key: &str) {
        let key = Memory::from_bytes(key.as_bytes());
        unsafe { sys::var_set(key.offset(), 0) };
        key.free();
    }
}

/// Log messages through the host, which drops those below its configured level.
pub mod log {
    use crate::{sys, Memory};

    fn write(level: unsafe extern "C" fn(u64), message: &str) {
        let memory = Memory::from_bytes(message.as_bytes());
        unsafe { level(memory.offset()) };
        memory.free();
    }

    /// Log `message` at trace level (the import `log_trace` needs a recent Extism runtime).
    pub fn trace(message: &str) {
        write(sys::log_trace, message)
    }

    /// Log `message` at debug level.
    pub fn debug(message: &str) {
        write(sys::log_debug, message)
    }

    /// Log `message` at info level.
    pub fn info(message: &str) {
        write(sys::log_info, message)
    }

    /// Log `message` at warn level.
    pub fn warn(message: &str) {
        write(sys::log_warn, message)
    }

    /// Log `message` at error level.
    pub fn error(message: &str) {
        write(sys::log_error, message)
    }
}
