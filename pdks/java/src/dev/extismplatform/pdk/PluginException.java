package dev.extismplatform.pdk;

/**
 * An error whose message the host receives exactly, as the call's error.
 *
 * <pre>{@code
 * throw new PluginException("greet: missing \"name\" (a string)");
 * }</pre>
 */
public class PluginException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public PluginException(String message) {
        super(message);
    }

    public PluginException(String message, Throwable cause) {
        super(message, cause);
    }
}
