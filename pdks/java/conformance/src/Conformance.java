// The Java PDK's conformance plugin: every export of conformance/CONTRACT.md, written with the
// PDK's public API only (`python -m conformance build java`).

import dev.extismplatform.pdk.Export;
import dev.extismplatform.pdk.HttpRequest;
import dev.extismplatform.pdk.HttpResponse;
import dev.extismplatform.pdk.Json;
import dev.extismplatform.pdk.JsonException;
import dev.extismplatform.pdk.Log;
import dev.extismplatform.pdk.Memory;
import dev.extismplatform.pdk.Pdk;
import dev.extismplatform.pdk.PluginException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import org.teavm.interop.Import;

public final class Conformance {
    private Conformance() {}

    /** The runner's host function: a block in, a block with its bytes reversed out. */
    @Import(module = "extism:host/user", name = "reverse_bytes")
    static native long reverseBytes(long block);

    @Export(name = "echo")
    public static byte[] echo(byte[] input) {
        return input;
    }

    @Export(name = "greet")
    public static String greet(String name) {
        return "Hello, " + name + "!";
    }

    @Export(name = "reverse")
    public static byte[] reverse(byte[] data) {
        for (int i = 0, j = data.length - 1; i < j; i++, j--) {
            byte b = data[i];
            data[i] = data[j];
            data[j] = b;
        }
        return data;
    }

    @Export(name = "input_size")
    public static String inputSize() {
        return Long.toString(Pdk.inputLength());
    }

    @Export(name = "json_sum")
    public static void jsonSum() {
        Map<String, Object> args;
        try {
            args = Pdk.inputJsonObject();
        } catch (JsonException bad) {
            throw new PluginException("json_sum: " + bad.getMessage());
        }
        Object a = args.get("a");
        Object b = args.get("b");
        if (!(a instanceof Long) || !(b instanceof Long)) {
            throw new PluginException("json_sum: the input needs integer members \"a\" and \"b\"");
        }
        Pdk.outputJson(Map.of("sum", (Long) a + (Long) b));
    }

    @Export(name = "config")
    public static String config(String key) {
        return Pdk.config(key).orElseThrow(() -> new PluginException("config key '" + key + "' is not set"));
    }

    @Export(name = "var_counter")
    public static String varCounter() {
        long n = Pdk.getVarString("counter").map(Long::parseLong).orElse(0L) + 1;
        Pdk.setVar("counter", Long.toString(n));
        return Long.toString(n);
    }

    @Export(name = "var_set")
    public static void varSet(byte[] input) {
        int eq = 0;
        while (eq < input.length && input[eq] != '=') {
            eq++;
        }
        if (eq == input.length) {
            throw new PluginException("var_set: the input must be <key>=<value>");
        }
        String key = new String(input, 0, eq, StandardCharsets.UTF_8);
        Pdk.setVar(key, Arrays.copyOfRange(input, eq + 1, input.length));
    }

    @Export(name = "var_get")
    public static byte[] varGet(String key) {
        return Pdk.getVar(key).orElseThrow(() -> new PluginException("var '" + key + "' is not set"));
    }

    @Export(name = "var_delete")
    public static void varDelete(String key) {
        Pdk.removeVar(key);
    }

    @Export(name = "fail")
    public static void fail(String message) {
        throw new PluginException(message);
    }

    /**
     * A trap: a raw TeaVM export (no PDK wrapper) that lets an exception escape. TeaVM then executes
     * `unreachable`; the host reports the call as failed.
     */
    @org.teavm.interop.Export(name = "trap")
    public static int trap() {
        throw new IllegalStateException("trap: an exception nobody catches");
    }

    @Export(name = "http_get")
    public static String httpGet(String url) {
        return describe(HttpRequest.get(url).header("X-Conformance", "1").send());
    }

    @Export(name = "http_post")
    public static String httpPost(byte[] body) {
        String url = Pdk.config("url").orElseThrow(() -> new PluginException("http_post: config key 'url' is not set"));
        HttpResponse res = HttpRequest.post(url, body)
                .header("X-Conformance", "1")
                .header("Content-Type", "text/plain")
                .send();
        return describe(res);
    }

    private static String describe(HttpResponse res) {
        return res.status() + "\n" + res.bodyString();
    }

    @Export(name = "host_reverse")
    public static byte[] hostReverse(byte[] input) {
        Memory result = Memory.at(reverseBytes(Memory.of(input).offset()));
        byte[] bytes = result.bytes();
        result.free();
        return bytes;
    }

    @Export(name = "log")
    public static void log(String message) {
        Log.debug("debug: " + message);
        Log.info("info: " + message);
        Log.warn("warn: " + message);
        Log.error("error: " + message);
    }

    private static volatile long spins;

    @Export(name = "spin")
    public static void spin() {
        while (true) {
            spins++;
        }
    }

    @Export(name = "grow")
    public static String grow(String pages) {
        int n = Integer.parseInt(pages.trim());
        byte[] block = new byte[Math.multiplyExact(n, 65536)];
        for (int i = 0; i < block.length; i += 4096) {
            block[i] = (byte) i; // touch every page
        }
        spins += block[block.length - 1];
        return "ok";
    }

    @Export(name = "large_output")
    public static byte[] largeOutput(String count) {
        byte[] out = new byte[Integer.parseInt(count.trim())];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) (i % 251);
        }
        return out;
    }
}
