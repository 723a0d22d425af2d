# The plugin's exports: each top-level method named in plugin.yaml's `exports` is one wasm export.
# It reads the call's input, returns the output (a String as bytes, anything else as JSON), and
# raises to fail the call: `raise Extism::Error, msg` sends exactly `msg` to the host. The API is
# the `Extism` module (pdks/ruby/README.md in extism-platform).

# {"name": "Ada"} -> {"greeting": "Hello, Ada!"}
def greet
  args = begin
    Extism.input_json
  rescue JSON::ParserError
    raise Extism::Error, "greet: the input is not a JSON object"
  end
  raise Extism::Error, "greet: the input is not a JSON object" unless args.is_a?(Hash)
  raise Extism::Error, 'greet: missing "name" (a string)' unless args.key?("name")
  raise Extism::Error, 'greet: "name" must be a string' unless args["name"].is_a?(String)

  { greeting: "Hello, #{args['name']}!" }
end
