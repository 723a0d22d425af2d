# The Ruby PDK: the `Extism` module every Ruby plugin uses.
#
# Evaluated once per instance, before the plugin's source, inside ruby.wasm (CRuby 3.4). The
# only way out of the interpreter is the `JS` extension: the runtime (pdks/ruby/runtime/glue.c)
# answers its calls with one function per kernel operation on `JS.global`, taking and returning
# strings of bytes. Nothing else of `JS` works in a plugin (there is no JavaScript engine).

require "js.so"
# Loaded on first use: a plugin that never touches JSON does not pay for it on its first call.
autoload :JSON, "json"

module Extism
  # Raise it to fail the call with exactly its message (any other exception gives
  # "<class>: <message>", except a plain RuntimeError from `raise "text"`).
  class Error < StandardError; end

  # The kernel's functions, through the runtime's JS bridge.
  module Native
    GLOBAL = JS.global

    module_function

    def call(name, *args)
      GLOBAL.call(name, *args)
    end

    # A bridge result as a binary String, or nil for undefined.
    def bytes(value)
      return nil if value.typeof == "undefined"

      value.to_s.force_encoding(Encoding::BINARY)
    end
  end
  private_constant :Native

  LOG_LEVELS = { trace: "0", debug: "1", info: "2", warn: "3", error: "4" }.freeze
  private_constant :LOG_LEVELS

  class << self
    # The call's input as a binary String (bytes).
    def input
      @input ||= Native.bytes(Native.call(:extism_input))
    end

    # The call's input as UTF-8 text.
    def input_string
      input.dup.force_encoding(Encoding::UTF_8)
    end

    # The call's input parsed as JSON (JSON::ParserError when it is not JSON).
    def input_json(**options)
      JSON.parse(input_string, **options)
    end

    # Set the call's output: a String as its bytes, anything else as JSON.
    def output(value)
      data = value.is_a?(String) ? value : JSON.generate(value)
      Native.call(:extism_output, data.b)
      @output_set = true
      nil
    end

    # Set the call's output to `value` as JSON.
    def output_json(value)
      output(JSON.generate(value))
    end

    # The config value of `key` as UTF-8 text, or nil when it is not set (or empty).
    def config(key)
      value = Native.bytes(Native.call(:extism_config_get, key.to_s))
      value&.force_encoding(Encoding::UTF_8)
    end

    # The instance's vars: bytes that live as long as the instance.
    def vars
      Vars
    end

    # Log `message` at `level` (:trace, :debug, :info, :warn, :error) through the host.
    def log(level, message)
      code = LOG_LEVELS.fetch(level) { raise ArgumentError, "unknown log level #{level.inspect}" }
      text = message.to_s
      Native.call(:extism_log, code, text) unless text.empty?
      nil
    end

    # An HTTP request through the host (the URL's host must be allowed by the manifest).
    # Returns an Extism::HTTP::Response; non-2xx statuses are returned, not raised.
    def http(url, method: "GET", headers: {}, body: nil)
      request = JSON.generate({ url: url.to_s, method: method.to_s.upcase, headers: headers.transform_keys(&:to_s) })
      data = Native.bytes(Native.call(:extism_http_request, request, (body || "").b))
      status = Native.call(:extism_http_status).to_s.to_i
      HTTP::Response.new(status, data)
    end

    # A host function import `module::name` with `params` i64 parameters and `results` (0 or 1)
    # i64 results. The build reads these calls (literal arguments only) and links the import.
    def host_function(mod, name, params = 1, results = 1)
      found = Native.call(:extism_host_index, mod.to_s, name.to_s)
      raise Error, "host function #{mod}::#{name} was not declared at build time" if found.typeof == "undefined"

      index, declared_params, declared_results = found.to_s.split.map(&:to_i)
      if declared_params != params || declared_results != results
        raise Error, "host function #{mod}::#{name} is declared with #{declared_params} params, #{declared_results} results"
      end

      HostFunction.new(index, params, results)
    end

    # Copy `data` into a new kernel block; returns its offset (0 for empty data).
    def alloc(data)
      Native.call(:extism_alloc, data.to_s.b).to_s.to_i
    end

    # The bytes of kernel block `offset` (0 is the empty block); the block is not freed.
    def read(offset)
      Native.bytes(Native.call(:extism_read, offset.to_s))
    end

    # Free kernel block `offset`.
    def free(offset)
      Native.call(:extism_free, offset.to_s) unless offset.zero?
      nil
    end

    # Stop the call with a wasm trap (what a crash is): the host reports an error and should
    # discard the instance.
    def abort!
      Native.call(:extism_trap)
    end

    # ---- called by the runtime ----------------------------------------------------------------

    # Run export `name` (a top-level method of the plugin): its return value, unless nil or
    # the export already called `output`, becomes the output; an exception becomes the error.
    def __call(name)
      __boot
      @input = nil
      @output_set = false
      result = TOPLEVEL_BINDING.receiver.__send__(name)
      output(result) unless result.nil? || @output_set
    rescue Exception => e # rubocop:disable Lint/RescueException -- every failure must reach the host
      Native.call(:extism_error, __error_text(e))
    ensure
      @input = nil
    end

    # Load the plugin's source once (the runtime calls this from the module's initializer); a
    # load error fails every later call.
    def __boot
      raise Error, @load_error if @load_error
      return if @booted

      @booted = true
      file = Native.call(:extism_source_name).to_s
      source = Native.bytes(Native.call(:extism_source)).force_encoding(Encoding::UTF_8)
      TOPLEVEL_BINDING.eval(source, file, 1)
    rescue Exception => e # rubocop:disable Lint/RescueException -- reported on every later call too
      @load_error ||= "#{file}: #{__error_text(e)}"
      raise Error, @load_error
    end

    private

    def __error_text(error)
      text = error.message.to_s
      return text if error.instance_of?(Error) || error.instance_of?(RuntimeError)

      "#{error.class}: #{text}"
    end
  end

  # The instance's vars (`Extism.vars`).
  module Vars
    module_function

    # The var's bytes (binary String), or nil when it is not set.
    def [](key)
      Native.bytes(Native.call(:extism_var_get, key.to_s))
    end

    # Store a String's bytes; nil or an empty String removes the var (the kernel has no empty blocks).
    def []=(key, value)
      if value.nil? || value.empty?
        delete(key)
      else
        Native.call(:extism_var_set, key.to_s, value.to_s.b)
      end
    end

    # Remove the var.
    def delete(key)
      Native.call(:extism_var_delete, key.to_s)
      nil
    end
  end

  module HTTP
    # A response: `status` (Integer), `body` (binary String), `text` (UTF-8), `json`.
    Response = Struct.new(:status, :body) do
      def text
        body.dup.force_encoding(Encoding::UTF_8)
      end

      def json(**options)
        JSON.parse(text, **options)
      end
    end
  end

  # A callable host function (`Extism.host_function`). Integer arguments pass as they are;
  # Strings are copied into a kernel block whose offset is passed (freed after the call).
  class HostFunction
    def initialize(index, params, results)
      @index = index
      @params = params
      @results = results
    end

    # Call it; returns the i64 result (Integer) or nil.
    def call(*args)
      raise ArgumentError, "wrong number of arguments (given #{args.size}, expected #{@params})" if args.size != @params

      blocks = []
      raw = args.map do |arg|
        next arg.to_s if arg.is_a?(Integer)

        blocks << Extism.alloc(arg.to_s)
        blocks.last.to_s
      end
      result = Native.call(:extism_host_call, @index.to_s, *raw)
      @results.zero? ? nil : result.to_s.to_i
    ensure
      blocks&.each { |b| Extism.free(b) }
    end
  end
end
