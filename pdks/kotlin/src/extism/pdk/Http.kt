package extism.pdk

/** An HTTP request for [Http.request]; the host allows or denies its URL's host (`allowed_hosts`). */
class HttpRequest(
    val url: String,
    val method: String = "GET",
    val headers: Map<String, String> = emptyMap(),
)

/** The response: its status and body. A non-2xx status is a response, not an error. */
class HttpResponse(val status: Int, val body: ByteArray) {
    /** The body as UTF-8 text. */
    fun bodyString(): String = body.decodeToString()
}

/** HTTP through the host: the host makes the request, so the plugin needs no network of its own. */
object Http {
    /** Send [request] with [body] (null: none). A denied host fails the call at the host. */
    fun request(request: HttpRequest, body: ByteArray? = null): HttpResponse {
        val description = Json.stringify(
            mapOf("url" to request.url, "method" to request.method, "headers" to request.headers),
        )
        val requestBlock = Memory.allocate(description).offset
        val bodyBlock = if (body == null) 0L else Memory.allocate(body).offset
        val response = kHttpRequest(requestBlock, bodyBlock)
        val status = kHttpStatusCode()
        return HttpResponse(status, takeBytes(response))
    }

    /** A GET of [url]. */
    fun get(url: String, headers: Map<String, String> = emptyMap()): HttpResponse =
        request(HttpRequest(url, "GET", headers))

    /** A POST of [body] to [url]. */
    fun post(url: String, body: ByteArray, headers: Map<String, String> = emptyMap()): HttpResponse =
        request(HttpRequest(url, "POST", headers), body)
}
