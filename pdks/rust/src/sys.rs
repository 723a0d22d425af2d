//! The raw Extism kernel imports (module `extism:host/env`).
//!
//! Every pointer and length is an offset into the kernel's memory, which is separate from the
//! plug-in's own linear memory. Prefer the safe wrappers of this crate; these are public for
//! the rare call they do not cover. An import is only linked into the module when it is used.

#[link(wasm_import_module = "extism:host/env")]
extern "C" {
    /// Length in bytes of the call's input.
    pub fn input_length() -> u64;
    /// One byte of the input at `offset`.
    pub fn input_load_u8(offset: u64) -> u8;
    /// Eight bytes (little-endian) of the input at `offset`.
    pub fn input_load_u64(offset: u64) -> u64;
    /// Allocate a kernel block of `length` bytes; 0 when the kernel is out of memory.
    pub fn alloc(length: u64) -> u64;
    /// Free the block at `offset`.
    pub fn free(offset: u64);
    /// Length of the block at `offset`; 0 when `offset` is not a live block.
    pub fn length(offset: u64) -> u64;
    /// Read one byte of kernel memory.
    pub fn load_u8(offset: u64) -> u8;
    /// Read eight bytes (little-endian) of kernel memory.
    pub fn load_u64(offset: u64) -> u64;
    /// Write one byte of kernel memory.
    pub fn store_u8(offset: u64, value: u8);
    /// Write eight bytes (little-endian) of kernel memory.
    pub fn store_u64(offset: u64, value: u64);
    /// Make `length` bytes at `offset` the call's output.
    pub fn output_set(offset: u64, length: u64);
    /// Make the block at `offset` the call's error message.
    pub fn error_set(offset: u64);
    /// The block holding the config value whose key is the block at `key`; 0 when absent.
    pub fn config_get(key: u64) -> u64;
    /// The block holding the var whose key is the block at `key`; 0 when absent.
    pub fn var_get(key: u64) -> u64;
    /// Set the var named by block `key` to block `value`; `value` 0 removes it.
    pub fn var_set(key: u64, value: u64);
    /// Perform the HTTP request described by the JSON block `request`, sending block `body`
    /// (0 = none); returns the response body block.
    pub fn http_request(request: u64, body: u64) -> u64;
    /// Status code of the last `http_request`.
    pub fn http_status_code() -> i32;
    /// The headers of the last `http_request`'s response as a JSON object block; 0 when the
    /// host does not hand them over (not granted, or a runtime without response headers).
    pub fn http_headers() -> u64;
    /// Log the message block at trace level (runtimes from 1.1 on).
    pub fn log_trace(message: u64);
    /// Log the message block at debug level.
    pub fn log_debug(message: u64);
    /// Log the message block at info level.
    pub fn log_info(message: u64);
    /// Log the message block at warn level.
    pub fn log_warn(message: u64);
    /// Log the message block at error level.
    pub fn log_error(message: u64);
}
