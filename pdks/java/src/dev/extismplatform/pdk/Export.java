package dev.extismplatform.pdk;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Makes a {@code public static} method a function the host can call.
 *
 * <pre>{@code
 * @Export(name = "greet")
 * public static String greet(String name) {
 *     return "Hello, " + name + "!";
 * }
 * }</pre>
 *
 * <p>The method takes nothing, the input as {@code byte[]}, or the input as a UTF-8 {@code String};
 * it returns {@code void} (it may call {@link Pdk#output(byte[])} itself), {@code byte[]} or
 * {@code String} (the output). Whatever it throws becomes the call's error: a {@link PluginException}'s
 * message exactly, any other throwable as {@code ClassName: message}. The build generates the wasm
 * export that does this around the method.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface Export {
    /** The export's name in the wasm module, as plugin.yaml lists it. */
    String name();
}
