//! The plugin's exports. Each is `export fn name() i32` whose body is a `!void` function run
//! through `extism.handle`: 0 on success, or 1 with the error's message set for the host.
//! The API is the `extism` module, the Zig PDK.
const std = @import("std");
const extism = @import("extism");

// A panic reaches the host as the call's error message instead of an anonymous trap.
pub const panic = extism.panic;

const gpa = std.heap.wasm_allocator;

/// {"name": "Ada"} -> {"greeting": "Hello, Ada!"}
export fn greet() i32 {
    return extism.handle(greetJson());
}

fn greetJson() !void {
    const input = try extism.input(gpa);
    defer gpa.free(input);
    const parsed = std.json.parseFromSlice(std.json.Value, gpa, input, .{}) catch |err| switch (err) {
        error.OutOfMemory => return err,
        else => return extism.failf("greet: the input is not a JSON object ({s})", .{@errorName(err)}),
    };
    defer parsed.deinit();
    const fields = switch (parsed.value) {
        .object => |object| object,
        else => return extism.fail("greet: the input is not a JSON object"),
    };
    const name = switch (fields.get("name") orelse return extism.fail("greet: missing \"name\" (a string)")) {
        .string => |text| text,
        else => return extism.fail("greet: \"name\" must be a string"),
    };

    const greeting = try std.fmt.allocPrint(gpa, "Hello, {s}!", .{name});
    defer gpa.free(greeting);
    const out = try std.json.Stringify.valueAlloc(gpa, .{ .greeting = greeting }, .{});
    defer gpa.free(out);
    extism.output(out);
}
