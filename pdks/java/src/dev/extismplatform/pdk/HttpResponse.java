package dev.extismplatform.pdk;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Map;

/** What {@link HttpRequest#send()} returns: the status, the body and, when the host shares them, the headers. */
public final class HttpResponse {
    private final int status;
    private final byte[] body;
    private final Map<String, String> headers;

    HttpResponse(int status, byte[] body, Map<String, String> headers) {
        this.status = status;
        this.body = body;
        this.headers = Collections.unmodifiableMap(headers);
    }

    /** The HTTP status code. */
    public int status() {
        return status;
    }

    /** The response body. */
    public byte[] body() {
        return body;
    }

    /** The response body decoded as UTF-8. */
    public String bodyString() {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** The response headers (empty when the host does not share them). */
    public Map<String, String> headers() {
        return headers;
    }
}
