package extism.pdk

/** Text that is not the JSON expected; the message says what and where. */
class JsonException(message: String) : Exception(message)

/**
 * A small JSON reader and writer (RFC 8259) on Kotlin's own types, so no serialization library
 * (and no compiler plugin) is needed: objects are `Map<String, Any?>` (members in order), arrays
 * `List<Any?>`, strings `String`, integers `Long` (other numbers `Double`), `Boolean` and `null`.
 */
object Json {
    /** Parse [text], which must hold exactly one JSON value. */
    fun parse(text: String): Any? {
        val reader = Reader(text)
        val value = reader.value(0)
        reader.skipSpace()
        if (reader.pos != text.length) reader.fail("unexpected text after the JSON value")
        return value
    }

    /** Parse [text] as a JSON object. */
    fun parseObject(text: String): Map<String, Any?> {
        val value = parse(text)
        if (value !is Map<*, *>) throw JsonException("expected a JSON object")
        @Suppress("UNCHECKED_CAST") // the reader makes every object a Map<String, Any?>
        return value as Map<String, Any?>
    }

    /** [value] as compact JSON: maps (string keys), iterables, arrays, strings, numbers, booleans, null. */
    fun stringify(value: Any?): String = StringBuilder().also { write(it, value) }.toString()

    private fun write(out: StringBuilder, value: Any?) {
        when (value) {
            null -> out.append("null")
            is String -> quote(out, value)
            is Boolean, is Int, is Long, is Short, is Byte -> out.append(value.toString())
            is Double -> number(out, value)
            is Float -> number(out, value.toDouble())
            is Map<*, *> -> {
                out.append('{')
                var first = true
                for ((k, v) in value) {
                    if (k !is String) throw JsonException("a JSON object key must be a string, not $k")
                    if (!first) out.append(',')
                    first = false
                    quote(out, k)
                    out.append(':')
                    write(out, v)
                }
                out.append('}')
            }
            is Iterable<*> -> list(out, value.iterator())
            is Array<*> -> list(out, value.iterator())
            else -> throw JsonException("cannot write a ${value::class.simpleName} as JSON")
        }
    }

    private fun list(out: StringBuilder, items: Iterator<*>) {
        out.append('[')
        var first = true
        for (item in items) {
            if (!first) out.append(',')
            first = false
            write(out, item)
        }
        out.append(']')
    }

    private fun number(out: StringBuilder, value: Double) {
        if (value.isNaN() || value.isInfinite()) throw JsonException("JSON has no $value")
        out.append(value.toString())
    }

    private fun quote(out: StringBuilder, s: String) {
        out.append('"')
        for (c in s) {
            when {
                c == '"' -> out.append("\\\"")
                c == '\\' -> out.append("\\\\")
                c == '\n' -> out.append("\\n")
                c == '\r' -> out.append("\\r")
                c == '\t' -> out.append("\\t")
                c < ' ' -> out.append("\\u00").append(HEX[c.code shr 4]).append(HEX[c.code and 15])
                else -> out.append(c)
            }
        }
        out.append('"')
    }

    private const val HEX = "0123456789abcdef"

    // Deep nesting would exhaust the wasm stack (a trap, not an error): refuse it first.
    private const val MAX_DEPTH = 512

    private class Reader(val s: String) {
        var pos = 0

        fun fail(what: String): Nothing = throw JsonException("$what at offset $pos")

        fun skipSpace() {
            while (pos < s.length && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\r' || s[pos] == '\t')) pos++
        }

        fun value(depth: Int): Any? {
            if (depth > MAX_DEPTH) fail("JSON nested deeper than $MAX_DEPTH levels")
            skipSpace()
            if (pos >= s.length) fail("unexpected end of JSON")
            return when (val c = s[pos]) {
                '{' -> obj(depth)
                '[' -> array(depth)
                '"' -> string()
                't' -> word("true", true)
                'f' -> word("false", false)
                'n' -> word("null", null)
                else -> if (c == '-' || c in '0'..'9') number() else fail("unexpected character '$c'")
            }
        }

        fun word(w: String, v: Any?): Any? {
            if (!s.startsWith(w, pos)) fail("invalid literal")
            pos += w.length
            return v
        }

        fun obj(depth: Int): Map<String, Any?> {
            pos++ // {
            val map = LinkedHashMap<String, Any?>()
            skipSpace()
            if (pos < s.length && s[pos] == '}') {
                pos++
                return map
            }
            while (true) {
                skipSpace()
                if (pos >= s.length || s[pos] != '"') fail("expected a member name")
                val key = string()
                skipSpace()
                if (pos >= s.length || s[pos] != ':') fail("expected ':'")
                pos++
                map[key] = value(depth + 1)
                skipSpace()
                if (pos >= s.length) fail("unexpected end of JSON in an object")
                when (s[pos++]) {
                    ',' -> continue
                    '}' -> return map
                    else -> { pos--; fail("expected ',' or '}'") }
                }
            }
        }

        fun array(depth: Int): List<Any?> {
            pos++ // [
            val list = ArrayList<Any?>()
            skipSpace()
            if (pos < s.length && s[pos] == ']') {
                pos++
                return list
            }
            while (true) {
                list.add(value(depth + 1))
                skipSpace()
                if (pos >= s.length) fail("unexpected end of JSON in an array")
                when (s[pos++]) {
                    ',' -> continue
                    ']' -> return list
                    else -> { pos--; fail("expected ',' or ']'") }
                }
            }
        }

        fun string(): String {
            pos++ // "
            val out = StringBuilder()
            while (true) {
                if (pos >= s.length) fail("unterminated string")
                val c = s[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> {
                        if (pos >= s.length) fail("unterminated string")
                        when (val e = s[pos++]) {
                            '"', '\\', '/' -> out.append(e)
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000C')
                            'n' -> out.append('\n')
                            'r' -> out.append('\r')
                            't' -> out.append('\t')
                            // UTF-16 code units: a surrogate pair is two escapes, which
                            // Kotlin's UTF-16 strings hold as they come.
                            'u' -> out.append(hex4().toChar())
                            else -> { pos--; fail("invalid escape '\\$e'") }
                        }
                    }
                    c < ' ' -> { pos--; fail("control character in a string") }
                    else -> out.append(c)
                }
            }
        }

        fun hex4(): Int {
            if (pos + 4 > s.length) fail("truncated \\u escape")
            var v = 0
            repeat(4) {
                val d = HEX.indexOf(s[pos].lowercaseChar())
                if (d < 0) fail("invalid \\u escape")
                v = v * 16 + d
                pos++
            }
            return v
        }

        fun number(): Any {
            val start = pos
            if (s[pos] == '-') pos++
            if (pos >= s.length || s[pos] !in '0'..'9') fail("invalid number")
            if (s[pos] == '0') pos++ else while (pos < s.length && s[pos] in '0'..'9') pos++
            var integral = true
            if (pos < s.length && s[pos] == '.') {
                integral = false
                pos++
                if (pos >= s.length || s[pos] !in '0'..'9') fail("invalid number")
                while (pos < s.length && s[pos] in '0'..'9') pos++
            }
            if (pos < s.length && (s[pos] == 'e' || s[pos] == 'E')) {
                integral = false
                pos++
                if (pos < s.length && (s[pos] == '+' || s[pos] == '-')) pos++
                if (pos >= s.length || s[pos] !in '0'..'9') fail("invalid number")
                while (pos < s.length && s[pos] in '0'..'9') pos++
            }
            val text = s.substring(start, pos)
            // An integer beyond 64 bits reads as a Double, as in most JSON readers.
            return (if (integral) text.toLongOrNull() else null) ?: text.toDouble()
        }
    }
}
