//! The weather plugin: GET https://api.weather.example/v1/current?city=<city> with the granted
//! api_key, and return {city, temp_c, conditions, humidity_pct, wind_kph}.
const std = @import("std");
const extism = @import("extism");

pub const panic = extism.panic;

extern "extism:host/user" fn log_event(message: u64) void;

const Input = struct { city: []const u8 };

const ApiReply = struct {
    city: []const u8,
    temp_c: f64,
    conditions: []const u8,
    humidity: f64 = 0,
    wind_kph: f64 = 0,
};

const Weather = struct {
    city: []const u8,
    temp_c: f64,
    conditions: []const u8,
    humidity_pct: f64,
    wind_kph: f64,
};

export fn get_weather() i32 {
    return extism.handle(getWeather());
}

fn percentEncode(gpa: std.mem.Allocator, text: []const u8) ![]u8 {
    const out = try gpa.alloc(u8, text.len * 3);
    var n: usize = 0;
    for (text) |c| {
        if (std.ascii.isAlphanumeric(c) or c == '-' or c == '_' or c == '.' or c == '~') {
            out[n] = c;
            n += 1;
        } else {
            _ = try std.fmt.bufPrint(out[n .. n + 3], "%{X:0>2}", .{c});
            n += 3;
        }
    }
    return out[0..n];
}

fn getWeather() !void {
    const gpa = std.heap.wasm_allocator;
    const raw = try extism.input(gpa);
    const input = std.json.parseFromSlice(Input, gpa, raw, .{ .ignore_unknown_fields = true }) catch
        return extism.fail("get_weather: expected {\"city\": \"<name>\"}");
    const city = input.value.city;
    if (city.len == 0) return extism.fail("get_weather: city must not be empty");

    const key = try extism.config(gpa, "api_key") orelse return extism.fail("get_weather: no api_key configured");
    const url = try std.fmt.allocPrint(gpa, "https://api.weather.example/v1/current?city={s}", .{try percentEncode(gpa, city)});

    const note = try std.fmt.allocPrint(gpa, "{{\"event\":\"lookup\",\"city_len\":{d}}}", .{city.len});
    const block = extism.Memory.fromBytes(note);
    log_event(block.offset);

    const resp = try extism.http.request(gpa, .{
        .url = url,
        .headers = &.{ .{ .name = "X-Api-Key", .value = key }, .{ .name = "Accept", .value = "application/json" } },
    });
    if (resp.status == 404) return extism.failf("get_weather: unknown city '{s}'", .{city});
    if (resp.status != 200) return extism.failf("get_weather: the weather API answered HTTP {d}", .{resp.status});

    const reply = std.json.parseFromSlice(ApiReply, gpa, resp.body, .{ .ignore_unknown_fields = true }) catch
        return extism.fail("get_weather: the weather API returned an unexpected document");
    const w = Weather{
        .city = reply.value.city,
        .temp_c = reply.value.temp_c,
        .conditions = reply.value.conditions,
        .humidity_pct = reply.value.humidity,
        .wind_kph = reply.value.wind_kph,
    };
    const out = try std.fmt.allocPrint(gpa, "{f}", .{std.json.fmt(w, .{})});
    extism.output(out);
}
