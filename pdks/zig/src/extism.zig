//! Extism plugin development kit for Zig.
//!
//! Build for `wasm32-freestanding`; the host supplies everything through the Extism kernel
//! (imports from `extism:host/env`). An export is `export fn name() i32` returning 0 on success;
//! write it as a normal `!void` function and let `handle` turn its result into that code:
//!
//!     const std = @import("std");
//!     const extism = @import("extism");
//!     pub const panic = extism.panic;
//!
//!     export fn greet() i32 {
//!         return extism.handle(greetImpl());
//!     }
//!
//!     fn greetImpl() !void {
//!         const gpa = std.heap.wasm_allocator;
//!         const name = try extism.input(gpa);
//!         defer gpa.free(name);
//!         const text = try std.fmt.allocPrint(gpa, "Hello, {s}!", .{name});
//!         defer gpa.free(text);
//!         extism.output(text);
//!     }

const std = @import("std");

/// The kernel's functions. Every offset and length is a u64 into kernel memory, which is
/// separate from the plugin's own linear memory: bytes move across with the load/store calls.
const kernel = struct {
    extern "extism:host/env" fn input_length() u64;
    extern "extism:host/env" fn input_load_u8(offset: u64) u8;
    extern "extism:host/env" fn input_load_u64(offset: u64) u64;
    extern "extism:host/env" fn length(offset: u64) u64;
    extern "extism:host/env" fn alloc(len: u64) u64;
    extern "extism:host/env" fn free(offset: u64) void;
    extern "extism:host/env" fn output_set(offset: u64, len: u64) void;
    extern "extism:host/env" fn error_set(offset: u64) void;
    extern "extism:host/env" fn store_u8(offset: u64, byte: u8) void;
    extern "extism:host/env" fn load_u8(offset: u64) u8;
    extern "extism:host/env" fn store_u64(offset: u64, word: u64) void;
    extern "extism:host/env" fn load_u64(offset: u64) u64;
    extern "extism:host/env" fn config_get(key: u64) u64;
    extern "extism:host/env" fn var_get(key: u64) u64;
    extern "extism:host/env" fn var_set(key: u64, value: u64) void;
    extern "extism:host/env" fn http_request(request: u64, body: u64) u64;
    extern "extism:host/env" fn http_status_code() i32;
    extern "extism:host/env" fn get_log_level() i32;
    extern "extism:host/env" fn log_trace(message: u64) void;
    extern "extism:host/env" fn log_debug(message: u64) void;
    extern "extism:host/env" fn log_info(message: u64) void;
    extern "extism:host/env" fn log_warn(message: u64) void;
    extern "extism:host/env" fn log_error(message: u64) void;
};

/// Copies `dest.len` bytes starting at `base`, eight bytes per kernel call, then the tail.
fn copyOut(
    comptime word: fn (u64) callconv(.c) u64,
    comptime byte: fn (u64) callconv(.c) u8,
    base: u64,
    dest: []u8,
) void {
    const whole = dest.len - dest.len % 8;
    var i: usize = 0;
    while (i < whole) : (i += 8) storeWord(dest[i..][0..8], word(base + i));
    while (i < dest.len) : (i += 1) dest[i] = byte(base + i);
}

// The kernel's u64 words hold their bytes in little-endian order, which is wasm's own order, so
// a word moves with one unaligned 8-byte load or store. (`std.mem.readInt`/`writeInt` go through
// a `[8]u8` bitcast that ReleaseSmall lowers to an 8-step byte loop per word: 3x slower copies.)
comptime {
    if (@import("builtin").cpu.arch.endian() != .little) @compileError("the kernel's words are little-endian");
}

inline fn loadWord(bytes: *const [8]u8) u64 {
    return @as(*align(1) const u64, @ptrCast(bytes)).*;
}

inline fn storeWord(bytes: *[8]u8, value: u64) void {
    @as(*align(1) u64, @ptrCast(bytes)).* = value;
}

/// A block of kernel memory. Pass `offset` to host functions; blocks the host hands back are
/// found with `Memory.find`. Blocks live until `free` or the end of the call.
pub const Memory = struct {
    offset: u64,
    length: u64,

    /// Allocates an uninitialised block of `len` bytes (offset 0 when `len` is 0: the kernel
    /// has no empty blocks). Traps when the kernel is out of memory.
    pub fn alloc(len: u64) Memory {
        const offset = kernel.alloc(len);
        if (offset == 0 and len != 0) @trap();
        return .{ .offset = offset, .length = len };
    }

    /// Allocates a block holding a copy of `bytes`.
    pub fn fromBytes(bytes: []const u8) Memory {
        const mem = alloc(bytes.len);
        mem.store(bytes);
        return mem;
    }

    /// The block starting at `offset` (as returned by the kernel or a host function), or null
    /// when `offset` is 0 or not the start of a live block.
    pub fn find(offset: u64) ?Memory {
        const len = kernel.length(offset);
        if (len == 0) return null;
        return .{ .offset = offset, .length = len };
    }

    /// Copies the block's first `dest.len` bytes into `dest`.
    pub fn load(self: Memory, dest: []u8) void {
        std.debug.assert(dest.len <= self.length);
        copyOut(kernel.load_u64, kernel.load_u8, self.offset, dest);
    }

    /// Returns a copy of the whole block, owned by the caller.
    pub fn loadAlloc(self: Memory, allocator: std.mem.Allocator) ![]u8 {
        const bytes = try allocator.alloc(u8, @intCast(self.length));
        self.load(bytes);
        return bytes;
    }

    /// Writes `bytes` at the start of the block.
    pub fn store(self: Memory, bytes: []const u8) void {
        std.debug.assert(bytes.len <= self.length);
        const whole = bytes.len - bytes.len % 8;
        var i: usize = 0;
        while (i < whole) : (i += 8) kernel.store_u64(self.offset + i, loadWord(bytes[i..][0..8]));
        while (i < bytes.len) : (i += 1) kernel.store_u8(self.offset + i, bytes[i]);
    }

    /// Returns the block to the kernel.
    pub fn free(self: Memory) void {
        kernel.free(self.offset);
    }
};

/// The length in bytes of the call's input.
pub fn inputLength() u64 {
    return kernel.input_length();
}

/// Returns a copy of the call's input, owned by the caller. Text is the same bytes (UTF-8).
pub fn input(allocator: std.mem.Allocator) ![]u8 {
    const bytes = try allocator.alloc(u8, @intCast(kernel.input_length()));
    copyOut(kernel.input_load_u64, kernel.input_load_u8, 0, bytes);
    return bytes;
}

/// Sets the call's output to a copy of `bytes` (the last call wins).
pub fn output(bytes: []const u8) void {
    outputMemory(Memory.fromBytes(bytes));
}

/// Makes `mem` the call's output; the kernel owns the block from now on.
pub fn outputMemory(mem: Memory) void {
    kernel.output_set(mem.offset, mem.length);
}

/// The error `fail` returns after it has set the call's error message.
pub const Error = error{PluginError};

var error_pending = false;

/// Sets the call's error message; the export must then return non-zero (`handle` does).
/// An empty message cannot be stored by the kernel, so the host reports a generic failure.
pub fn setError(message: []const u8) void {
    kernel.error_set(Memory.fromBytes(message).offset);
    error_pending = true;
}

/// Sets the call's error message and returns `error.PluginError`: `return extism.fail("no");`.
pub fn fail(message: []const u8) Error {
    setError(message);
    return error.PluginError;
}

/// `fail` with a formatted message: `return extism.failf("key '{s}' is not set", .{key});`.
pub fn failf(comptime fmt: []const u8, args: anytype) Error {
    const gpa = std.heap.wasm_allocator;
    const message = std.fmt.allocPrint(gpa, fmt, args) catch return fail("out of memory");
    defer gpa.free(message);
    return fail(message);
}

/// Turns an export's result into its return code: 0 on success, else 1 with the error message
/// set — the one given to `fail`/`setError`, or the error's name (`OutOfMemory`).
pub fn handle(result: anyerror!void) i32 {
    defer error_pending = false;
    result catch |err| {
        if (!error_pending) setError(@errorName(err));
        return 1;
    };
    return 0;
}

/// Exports `func` (a `fn () !void`, reported through `handle`) to the host as `name`:
/// `comptime { _ = extism.Export("log", logAll); }`. Plain `export fn` does the same job, but
/// cannot use names that compiler-rt also defines (`log`, `exp`, `sqrt`, `floor`, `memcpy`, …):
/// the linker then drops the export. This helper exports a hidden symbol and gives the wasm
/// export its name with the assembler's `.export_name`. `name` must be an identifier.
pub fn Export(comptime name: []const u8, comptime func: anytype) type {
    return struct {
        const symbol = "extism_export_" ++ name;
        const shim = "extism_shim_" ++ name;

        fn call() callconv(.c) i32 {
            return handle(func());
        }

        comptime {
            @export(&call, .{ .name = symbol, .visibility = .hidden });
            asm (".functype " ++ symbol ++ " () -> (i32)\n" ++
                    ".section .text." ++ shim ++ ",\"\",@\n" ++
                    ".globl " ++ shim ++ "\n" ++
                    ".export_name " ++ shim ++ ", " ++ name ++ "\n" ++
                    ".type " ++ shim ++ ",@function\n" ++
                    shim ++ ":\n" ++
                    ".functype " ++ shim ++ " () -> (i32)\n" ++
                    "call " ++ symbol ++ "\n" ++
                    "end_function\n");
        }
    };
}

/// A panic handler that reports the panic message as the call's error, then traps.
/// Install it in the root file: `pub const panic = extism.panic;`.
pub const panic = std.debug.FullPanic(panicHandler);

fn panicHandler(message: []const u8, _: ?usize) noreturn {
    kernel.error_set(Memory.fromBytes(message).offset);
    @trap();
}

/// Loads a kernel block returned for `key` by `get` (config_get / var_get), freeing both.
fn lookup(comptime get: fn (u64) callconv(.c) u64, allocator: std.mem.Allocator, key: []const u8) !?[]u8 {
    const k = Memory.fromBytes(key);
    defer k.free();
    const offset = get(k.offset);
    if (offset == 0) return null;
    const value = Memory{ .offset = offset, .length = kernel.length(offset) };
    defer value.free();
    return try value.loadAlloc(allocator);
}

/// Returns a copy of the manifest's config value for `key` (owned by the caller), or null.
pub fn config(allocator: std.mem.Allocator, key: []const u8) !?[]u8 {
    return lookup(kernel.config_get, allocator, key);
}

/// Plugin variables: bytes kept by the host for the life of the plugin instance.
pub const vars = struct {
    /// Returns a copy of the variable's value (owned by the caller), or null when it is not set.
    pub fn get(allocator: std.mem.Allocator, key: []const u8) !?[]u8 {
        return lookup(kernel.var_get, allocator, key);
    }

    /// Stores `value` under `key`. An empty value removes the variable (the kernel has no empty blocks).
    pub fn set(key: []const u8, value: []const u8) void {
        const k = Memory.fromBytes(key);
        defer k.free();
        const v = Memory.fromBytes(value);
        defer v.free();
        kernel.var_set(k.offset, v.offset);
    }

    /// Removes the variable `key`.
    pub fn remove(key: []const u8) void {
        const k = Memory.fromBytes(key);
        defer k.free();
        kernel.var_set(k.offset, 0);
    }
};

/// Log levels, ordered as the kernel numbers them.
pub const Level = enum(i32) { trace = 0, debug = 1, info = 2, warn = 3, err = 4 };

/// True when the host records messages at `level`.
pub fn logEnabled(level: Level) bool {
    return @backingInt(level) >= kernel.get_log_level();
}

/// Sends `message` to the host's log at `level`.
pub fn log(level: Level, message: []const u8) void {
    if (!logEnabled(level)) return;
    const mem = Memory.fromBytes(message);
    defer mem.free();
    switch (level) {
        .trace => kernel.log_trace(mem.offset),
        .debug => kernel.log_debug(mem.offset),
        .info => kernel.log_info(mem.offset),
        .warn => kernel.log_warn(mem.offset),
        .err => kernel.log_error(mem.offset),
    }
}

/// `log` with a formatted message: `extism.logf(.info, "got {d} bytes", .{n});`.
pub fn logf(level: Level, comptime fmt: []const u8, args: anytype) void {
    if (!logEnabled(level)) return;
    const gpa = std.heap.wasm_allocator;
    const message = std.fmt.allocPrint(gpa, fmt, args) catch return;
    defer gpa.free(message);
    log(level, message);
}

/// A `std.log` backend: `pub const std_options: std.Options = .{ .logFn = extism.logFn };`
/// routes `std.log.info(…)` to the host (set `.log_level = .debug` to keep debug messages).
pub fn logFn(
    comptime level: std.log.Level,
    comptime scope: @EnumLiteral(),
    comptime fmt: []const u8,
    args: anytype,
) void {
    const prefix = if (scope == .default) "" else "(" ++ @tagName(scope) ++ ") ";
    const ours: Level = switch (level) {
        .err => .err,
        .warn => .warn,
        .info => .info,
        .debug => .debug,
    };
    logf(ours, prefix ++ fmt, args);
}

/// Outgoing HTTP through the host (which only reaches the manifest's `allowed_hosts`).
pub const http = struct {
    pub const Method = std.http.Method;

    pub const Header = struct { name: []const u8, value: []const u8 };

    pub const Request = struct {
        url: []const u8,
        method: Method = .GET,
        headers: []const Header = &.{},
        body: ?[]const u8 = null,
    };

    pub const Response = struct {
        status: u16,
        /// Owned by the allocator given to `request`.
        body: []u8,

        pub fn deinit(self: Response, allocator: std.mem.Allocator) void {
            allocator.free(self.body);
        }
    };

    /// Sends `req` and waits for the response. A denied host or a failed connection ends the
    /// call with the host's error; HTTP error statuses are ordinary responses.
    pub fn request(allocator: std.mem.Allocator, req: Request) !Response {
        const meta = try encodeRequest(allocator, req);
        defer allocator.free(meta);
        const meta_mem = Memory.fromBytes(meta);
        defer meta_mem.free();
        const body_mem = Memory.fromBytes(req.body orelse "");
        defer body_mem.free();

        const offset = kernel.http_request(meta_mem.offset, body_mem.offset);
        const status: u16 = @intCast(kernel.http_status_code());
        const body = Memory.find(offset) orelse return .{ .status = status, .body = &.{} };
        defer body.free();
        return .{ .status = status, .body = try body.loadAlloc(allocator) };
    }

    /// The kernel's request JSON: `{"url":…,"method":…,"headers":{name:value,…}}`.
    fn encodeRequest(allocator: std.mem.Allocator, req: Request) ![]u8 {
        var out: std.Io.Writer.Allocating = .init(allocator);
        defer out.deinit();
        var json: std.json.Stringify = .{ .writer = &out.writer };
        writeRequest(&json, req) catch return error.OutOfMemory;
        return out.toOwnedSlice();
    }

    fn writeRequest(json: *std.json.Stringify, req: Request) std.Io.Writer.Error!void {
        try json.beginObject();
        try json.objectField("url");
        try json.write(req.url);
        try json.objectField("method");
        try json.write(@tagName(req.method));
        try json.objectField("headers");
        try json.beginObject();
        for (req.headers) |h| {
            try json.objectField(h.name);
            try json.write(h.value);
        }
        try json.endObject();
        try json.endObject();
    }
};
