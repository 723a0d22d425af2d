// The plugin's exports: each public static method marked @Export(name = "…") is one wasm export.
// It takes the call's input (nothing, byte[] or String) and returns the output (void, byte[] or
// String); whatever it throws fails the call, and a PluginException's message reaches the host
// as it is. The API is the Java PDK, package dev.extismplatform.pdk, which the build supplies.

import dev.extismplatform.pdk.Export;
import dev.extismplatform.pdk.JsonException;
import dev.extismplatform.pdk.Pdk;
import dev.extismplatform.pdk.PluginException;
import java.util.Map;

public final class Plugin {
    private Plugin() {}

    /** {"name": "Ada"} -> {"greeting": "Hello, Ada!"} */
    @Export(name = "greet")
    public static void greet() {
        Map<String, Object> args;
        try {
            args = Pdk.inputJsonObject();
        } catch (JsonException notAnObject) {
            throw new PluginException("greet: the input is not a JSON object (" + notAnObject.getMessage() + ")");
        }
        if (!args.containsKey("name")) {
            throw new PluginException("greet: missing \"name\" (a string)");
        }
        if (!(args.get("name") instanceof String)) {
            throw new PluginException("greet: \"name\" must be a string");
        }
        Pdk.outputJson(Map.of("greeting", "Hello, " + args.get("name") + "!"));
    }
}
