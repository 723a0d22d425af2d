package dev.extismplatform.pdk;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;

/**
 * The plugin's side of a call: input, output, errors, config and vars.
 *
 * <pre>{@code
 * @Export(name = "count")
 * public static String count() {
 *     long n = Pdk.getVarString("n").map(Long::parseLong).orElse(0L) + 1;
 *     Pdk.setVar("n", Long.toString(n));
 *     return Pdk.config("prefix").orElse("") + n;
 * }
 * }</pre>
 */
public final class Pdk {
    private Pdk() {}

    // ---- input -------------------------------------------------------------------------------

    /** The input's length in bytes, without copying it. */
    public static long inputLength() {
        return Kernel.inputLength();
    }

    /** A copy of the call's input. */
    public static byte[] input() {
        return Memory.loadInput();
    }

    /** The input decoded as UTF-8 (malformed sequences become U+FFFD). */
    public static String inputString() {
        return new String(input(), StandardCharsets.UTF_8);
    }

    /** The input parsed as JSON (see {@link Json#parse(String)} for the Java types). */
    public static Object inputJson() {
        return Json.parse(inputString());
    }

    /** The input parsed as a JSON object; anything else throws {@link JsonException}. */
    public static Map<String, Object> inputJsonObject() {
        return Json.parseObject(inputString());
    }

    // ---- output ------------------------------------------------------------------------------

    /** Set the call's output (a later call replaces it). */
    public static void output(byte[] data) {
        Memory block = Memory.of(data);
        Kernel.outputSet(block.offset(), block.length());
    }

    /** Set the call's output to {@code text} as UTF-8. */
    public static void output(String text) {
        output(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Set the call's output to {@code value} written as JSON (see {@link Json#write(Object)}). */
    public static void outputJson(Object value) {
        output(Json.write(value));
    }

    // ---- errors ------------------------------------------------------------------------------

    /**
     * Set the call's error message. The export must then return non-zero; an {@link Export}
     * method throws a {@link PluginException} instead, which does both.
     */
    public static void setError(String message) {
        Kernel.errorSet(Memory.of(message).offset());
    }

    // ---- config ------------------------------------------------------------------------------

    /** The host's config value for {@code key}; empty when it is not set (or set to ""). */
    public static Optional<String> config(String key) {
        long block = Kernel.configGet(Memory.of(key).offset());
        return Optional.ofNullable(takeString(block));
    }

    // ---- vars --------------------------------------------------------------------------------

    /** The var {@code key}; empty when it is not set. Vars live as long as the plugin instance. */
    public static Optional<byte[]> getVar(String key) {
        long block = Kernel.varGet(Memory.of(key).offset());
        if (block == 0) {
            return Optional.empty();
        }
        Memory value = Memory.at(block);
        byte[] bytes = value.bytes();
        value.free();
        return Optional.of(bytes);
    }

    /** The var {@code key} decoded as UTF-8; empty when it is not set. */
    public static Optional<String> getVarString(String key) {
        return Optional.ofNullable(takeString(Kernel.varGet(Memory.of(key).offset())));
    }

    /** Store var {@code key}. An empty value removes the var (the kernel cannot hold empty blocks). */
    public static void setVar(String key, byte[] value) {
        // The kernel frees both blocks itself.
        Kernel.varSet(Memory.of(key).offset(), Memory.of(value).offset());
    }

    /** Store var {@code key} as UTF-8. */
    public static void setVar(String key, String value) {
        setVar(key, value.getBytes(StandardCharsets.UTF_8));
    }

    /** Remove var {@code key}. */
    public static void removeVar(String key) {
        Kernel.varSet(Memory.of(key).offset(), 0);
    }

    // ---- helpers -----------------------------------------------------------------------------

    /** The UTF-8 text of a block the caller owns, then the block freed; null for block 0. */
    static String takeString(long block) {
        if (block == 0) {
            return null;
        }
        Memory value = Memory.at(block);
        String text = value.string();
        value.free();
        return text;
    }
}
