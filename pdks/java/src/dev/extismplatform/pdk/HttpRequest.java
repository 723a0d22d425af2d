package dev.extismplatform.pdk;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An HTTP request the host makes for the plugin.
 *
 * <pre>{@code
 * HttpResponse res = HttpRequest.get("https://api.example.com/items")
 *         .header("Accept", "application/json")
 *         .send();
 * if (res.status() != 200) throw new PluginException("items: status " + res.status());
 * Object items = Json.parse(res.bodyString());
 * }</pre>
 *
 * <p>The host lets a request through only when its URL's host is in the plugin's allowed hosts;
 * otherwise the call ends with the host's error (no exception reaches the plugin). Statuses such
 * as 404 are responses, not errors.
 */
public final class HttpRequest {
    private final String method;
    private final String url;
    private final Map<String, String> headers = new LinkedHashMap<>();
    private byte[] body;

    /** A request with this method (GET, POST, …) and URL, no headers and no body. */
    public HttpRequest(String method, String url) {
        this.method = method;
        this.url = url;
    }

    public static HttpRequest get(String url) {
        return new HttpRequest("GET", url);
    }

    public static HttpRequest post(String url, byte[] body) {
        return new HttpRequest("POST", url).body(body);
    }

    public static HttpRequest post(String url, String body) {
        return new HttpRequest("POST", url).body(body);
    }

    /** Set a request header (one value per name; a second call replaces it). */
    public HttpRequest header(String name, String value) {
        headers.put(name, value);
        return this;
    }

    public HttpRequest body(byte[] body) {
        this.body = body;
        return this;
    }

    public HttpRequest body(String body) {
        return body(body.getBytes(StandardCharsets.UTF_8));
    }

    public String method() {
        return method;
    }

    public String url() {
        return url;
    }

    /** Send the request through the host and wait for its response. */
    public HttpResponse send() {
        StringBuilder desc = new StringBuilder("{\"url\":");
        Json.quote(desc, url);
        desc.append(",\"method\":");
        Json.quote(desc, method);
        desc.append(",\"headers\":");
        desc.append(Json.write(headers));
        desc.append('}');
        // The kernel frees the request and body blocks itself.
        long requestBlock = Memory.of(desc.toString()).offset();
        long bodyBlock = body == null ? 0 : Memory.of(body).offset();
        Memory responseBody = Memory.at(Kernel.httpRequest(requestBlock, bodyBlock));
        int status = Kernel.httpStatusCode();
        byte[] bytes = responseBody.bytes();
        responseBody.free();
        return new HttpResponse(status, bytes, responseHeaders());
    }

    private static Map<String, String> responseHeaders() {
        String text = Pdk.takeString(Kernel.httpHeaders());
        Map<String, String> headers = new LinkedHashMap<>();
        if (text == null) {
            return headers; // the host shares no headers
        }
        for (Map.Entry<String, Object> member : Json.parseObject(text).entrySet()) {
            headers.put(member.getKey(), String.valueOf(member.getValue()));
        }
        return headers;
    }
}
