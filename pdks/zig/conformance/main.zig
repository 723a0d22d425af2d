//! The Zig PDK's conformance plugin: every export of conformance/CONTRACT.md, written with the
//! PDK's public API only. Each export is a thin `export fn … i32` around a `!void` function.

const std = @import("std");
const extism = @import("extism");

/// Panics (and `trap`) reach the host as the call's error message.
pub const panic = extism.panic;

const gpa = std.heap.wasm_allocator;

/// The one host function the runner provides: a block offset in, a block offset out.
extern "extism:host/user" fn reverse_bytes(offset: u64) u64;

export fn echo() i32 {
    return extism.handle(echoImpl());
}
fn echoImpl() !void {
    const data = try extism.input(gpa);
    defer gpa.free(data);
    extism.output(data);
}

export fn greet() i32 {
    return extism.handle(greetImpl());
}
fn greetImpl() !void {
    const name = try extism.input(gpa);
    defer gpa.free(name);
    const text = try std.fmt.allocPrint(gpa, "Hello, {s}!", .{name});
    defer gpa.free(text);
    extism.output(text);
}

export fn reverse() i32 {
    return extism.handle(reverseImpl());
}
fn reverseImpl() !void {
    const data = try extism.input(gpa);
    defer gpa.free(data);
    std.mem.reverse(u8, data);
    extism.output(data);
}

export fn input_size() i32 {
    return extism.handle(inputSizeImpl());
}
fn inputSizeImpl() !void {
    var buf: [20]u8 = undefined;
    extism.output(try std.fmt.bufPrint(&buf, "{d}", .{extism.inputLength()}));
}

export fn json_sum() i32 {
    return extism.handle(jsonSumImpl());
}
fn jsonSumImpl() !void {
    const text = try extism.input(gpa);
    defer gpa.free(text);
    const parsed = std.json.parseFromSlice(std.json.Value, gpa, text, .{}) catch |err|
        return extism.failf("json_sum: invalid JSON ({s})", .{@errorName(err)});
    defer parsed.deinit();
    const a = intMember(parsed.value, "a") orelse return extism.fail("json_sum: expected an integer member 'a'");
    const b = intMember(parsed.value, "b") orelse return extism.fail("json_sum: expected an integer member 'b'");
    const sum = std.math.add(i64, a, b) catch return extism.fail("json_sum: the sum overflows 64 bits");
    var buf: [40]u8 = undefined;
    extism.output(try std.fmt.bufPrint(&buf, "{{\"sum\": {d}}}", .{sum}));
}

/// `value.name` when `value` is an object whose member `name` is a 64-bit integer.
fn intMember(value: std.json.Value, name: []const u8) ?i64 {
    if (value != .object) return null;
    const member = value.object.get(name) orelse return null;
    return if (member == .integer) member.integer else null;
}

export fn config() i32 {
    return extism.handle(configImpl());
}
fn configImpl() !void {
    const key = try extism.input(gpa);
    defer gpa.free(key);
    const value = try extism.config(gpa, key) orelse
        return extism.failf("config key '{s}' is not set", .{key});
    defer gpa.free(value);
    extism.output(value);
}

export fn var_counter() i32 {
    return extism.handle(varCounterImpl());
}
fn varCounterImpl() !void {
    var count: u64 = 0;
    if (try extism.vars.get(gpa, "counter")) |stored| {
        defer gpa.free(stored);
        count = std.fmt.parseInt(u64, stored, 10) catch
            return extism.failf("var_counter: var 'counter' is not a number: {s}", .{stored});
    }
    var buf: [20]u8 = undefined;
    const text = try std.fmt.bufPrint(&buf, "{d}", .{count + 1});
    extism.vars.set("counter", text);
    extism.output(text);
}

export fn var_set() i32 {
    return extism.handle(varSetImpl());
}
fn varSetImpl() !void {
    const line = try extism.input(gpa);
    defer gpa.free(line);
    const eq = std.mem.indexOfScalar(u8, line, '=') orelse
        return extism.fail("var_set: expected <key>=<value>");
    extism.vars.set(line[0..eq], line[eq + 1 ..]);
    extism.output("");
}

export fn var_get() i32 {
    return extism.handle(varGetImpl());
}
fn varGetImpl() !void {
    const key = try extism.input(gpa);
    defer gpa.free(key);
    const value = try extism.vars.get(gpa, key) orelse
        return extism.failf("var '{s}' is not set", .{key});
    defer gpa.free(value);
    extism.output(value);
}

export fn var_delete() i32 {
    return extism.handle(varDeleteImpl());
}
fn varDeleteImpl() !void {
    const key = try extism.input(gpa);
    defer gpa.free(key);
    extism.vars.remove(key);
    extism.output("");
}

export fn fail() i32 {
    return extism.handle(failImpl());
}
fn failImpl() !void {
    const message = try extism.input(gpa);
    defer gpa.free(message);
    return extism.fail(message);
}

export fn trap() i32 {
    @panic("trap: requested by the caller");
}

export fn http_get() i32 {
    return extism.handle(httpGetImpl());
}
fn httpGetImpl() !void {
    const url = try extism.input(gpa);
    defer gpa.free(url);
    const res = try extism.http.request(gpa, .{
        .url = url,
        .headers = &.{.{ .name = "X-Conformance", .value = "1" }},
    });
    defer res.deinit(gpa);
    try outputResponse(res);
}

export fn http_post() i32 {
    return extism.handle(httpPostImpl());
}
fn httpPostImpl() !void {
    const url = try extism.config(gpa, "url") orelse
        return extism.fail("config key 'url' is not set");
    defer gpa.free(url);
    const body = try extism.input(gpa);
    defer gpa.free(body);
    const res = try extism.http.request(gpa, .{
        .url = url,
        .method = .POST,
        .headers = &.{
            .{ .name = "X-Conformance", .value = "1" },
            .{ .name = "Content-Type", .value = "text/plain" },
        },
        .body = body,
    });
    defer res.deinit(gpa);
    try outputResponse(res);
}

fn outputResponse(res: extism.http.Response) !void {
    const text = try std.fmt.allocPrint(gpa, "{d}\n{s}", .{ res.status, res.body });
    defer gpa.free(text);
    extism.output(text);
}

export fn host_reverse() i32 {
    return extism.handle(hostReverseImpl());
}
fn hostReverseImpl() !void {
    const data = try extism.input(gpa);
    defer gpa.free(data);
    const arg = extism.Memory.fromBytes(data);
    defer arg.free();
    // The returned block becomes the output as is; an empty result has no block.
    if (extism.Memory.find(reverse_bytes(arg.offset))) |result| {
        extism.outputMemory(result);
    } else {
        extism.output("");
    }
}

// `log` is also a compiler-rt symbol, so a plain `export fn log` would be dropped by the linker.
comptime {
    _ = extism.Export("log", logAtEveryLevel);
}
fn logAtEveryLevel() !void {
    const message = try extism.input(gpa);
    defer gpa.free(message);
    extism.logf(.debug, "debug: {s}", .{message});
    extism.logf(.info, "info: {s}", .{message});
    extism.logf(.warn, "warn: {s}", .{message});
    extism.logf(.err, "error: {s}", .{message});
    extism.output("");
}

export fn spin() i32 {
    while (true) {}
}

export fn grow() i32 {
    return extism.handle(growImpl());
}
fn growImpl() !void {
    const pages = try readCount();
    if (@wasmMemoryGrow(0, pages) < 0)
        return extism.failf("grow: cannot grow memory by {d} pages", .{pages});
    extism.output("ok");
}

export fn large_output() i32 {
    return extism.handle(largeOutputImpl());
}
fn largeOutputImpl() !void {
    const n = try readCount();
    const data = try gpa.alloc(u8, n);
    defer gpa.free(data);
    for (data, 0..) |*b, i| b.* = @intCast(i % 251);
    extism.output(data);
}

/// The input as a decimal count (`grow`, `large_output`).
fn readCount() !usize {
    const text = try extism.input(gpa);
    defer gpa.free(text);
    return std.fmt.parseInt(usize, std.mem.trim(u8, text, " \t\r\n"), 10) catch
        return extism.failf("expected a decimal count, got '{s}'", .{text});
}
