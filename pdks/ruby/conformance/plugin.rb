# The Ruby PDK's conformance plugin: every export of conformance/CONTRACT.md.

REVERSE_BYTES = Extism.host_function("extism:host/user", "reverse_bytes")

def echo
  Extism.input
end

def greet
  "Hello, #{Extism.input_string}!"
end

def reverse
  Extism.input.reverse
end

def input_size
  Extism.input.bytesize.to_s
end

def json_sum
  value = begin
    Extism.input_json
  rescue JSON::ParserError => e
    raise Extism::Error, "json_sum: #{e.class}: #{e.message}"
  end
  raise Extism::Error, "json_sum: the input is not a JSON object" unless value.is_a?(Hash)

  a, b = value.values_at("a", "b")
  raise Extism::Error, "json_sum: members a and b must be integers" unless a.is_a?(Integer) && b.is_a?(Integer)

  # Ruby integers are arbitrary-precision; the contract's sums are 64-bit signed.
  sum = ((a + b + 2**63) % 2**64) - 2**63
  { sum: sum }
end

def config
  key = Extism.input_string
  Extism.config(key) or raise Extism::Error, "config key '#{key}' is not set"
end

def var_counter
  count = (Extism.vars["counter"] || "0").to_i + 1
  Extism.vars["counter"] = count.to_s
  count.to_s
end

def var_set
  key, value = Extism.input.split("=", 2)
  raise Extism::Error, "var_set: the input is not <key>=<value>" if value.nil?

  Extism.vars[key.force_encoding(Encoding::UTF_8)] = value
  nil
end

def var_get
  key = Extism.input_string
  Extism.vars[key] or raise Extism::Error, "var '#{key}' is not set"
end

def var_delete
  Extism.vars.delete(Extism.input_string)
  nil
end

def fail
  raise Extism::Error, Extism.input_string
end

def trap
  Extism.abort!
end

def status_and_body(response)
  "#{response.status}\n".b + response.body
end

def http_get
  status_and_body(Extism.http(Extism.input_string, headers: { "X-Conformance" => "1" }))
end

def http_post
  url = Extism.config("url") or raise Extism::Error, "config key 'url' is not set"
  headers = { "X-Conformance" => "1", "Content-Type" => "text/plain" }
  status_and_body(Extism.http(url, method: "POST", headers: headers, body: Extism.input))
end

def host_reverse
  block = REVERSE_BYTES.call(Extism.input)
  result = Extism.read(block)
  Extism.free(block)
  result
end

def log
  message = Extism.input_string
  %i[debug info warn error].each { |level| Extism.log(level, "#{level}: #{message}") }
  nil
end

def spin
  loop {}
end

def grow
  pages = Extism.input_string.to_i
  block = "\0".b * (pages * 65_536) # NoMemoryError (or an engine abort) when memory cannot grow
  block.setbyte(block.bytesize - 1, 1) if pages.positive?
  "ok"
end

def large_output
  size = Extism.input_string.to_i
  period = (0...251).to_a.pack("C*")
  (period * ((size / 251) + 1)).byteslice(0, size)
end
