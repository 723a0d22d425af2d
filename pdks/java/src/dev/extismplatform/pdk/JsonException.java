package dev.extismplatform.pdk;

/** Text that is not the JSON expected; the message says what and where (a character offset). */
public class JsonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public JsonException(String message) {
        super(message);
    }
}
