# An AppLink app in Ruby: a Rack app on Puma, with the standard library (base64 via
# String#unpack1, json) and Rack's own middleware and request helpers.
#
# Procfile: web: APP_PORT=3000 heroku-applink-service-mesh puma -C config/puma.rb config.ru
# Puma listens on $PORT (config/puma.rb), which the sidecar sets to the app's port. Every route but
# /healthcheck and /slow answers with what this runtime read: method, client context, AppLink
# headers and query.
require "json"

def say(line)
  $stdout.puts("app: #{line}")
  $stdout.flush
end

# Rack reads the header as HTTP_X_CLIENT_CONTEXT; "m0" is strict base64 (RFC 4648: no line feeds,
# padding required); JSON.parse keeps the last of duplicate keys.
def client_context(encoded)
  return { "orgId" => nil, "userId" => nil, "version" => nil } if encoded.nil?

  context = JSON.parse(encoded.unpack1("m0"))
  user = context.is_a?(Hash) ? context["userContext"] : nil
  { "orgId" => context.is_a?(Hash) ? context["orgId"] : nil,
    "userId" => user.is_a?(Hash) ? user["userId"] : nil,
    "version" => context.is_a?(Hash) ? context["version"] : nil }
rescue ArgumentError, JSON::ParserError => e
  { "orgId" => nil, "userId" => nil, "version" => nil, "error" => "#{e.class}: #{e.message}" }
end

# What JSON.generate refuses, made printable: header and query bytes that are not UTF-8 (as
# U+FFFD), and the Infinity or NaN that JSON.parse reads from 1e400 (as a string).
def jsonable(value)
  case value
  when String then value.dup.force_encoding(Encoding::UTF_8).scrub
  when Float then value.finite? ? value : value.to_s
  when Array then value.map { |v| jsonable(v) }
  when Hash then value.to_h { |k, v| [jsonable(k), jsonable(v)] }
  else value
  end
end

def reading(env)
  primary = client_context(env["HTTP_X_CLIENT_CONTEXT"])
  query = begin
    get = Rack::Request.new(env).GET # Rack 2: split on & and ;, last value wins, a[]= is an Array
    { "orgId" => get["orgId"], "apiName" => get["apiName"] }
  rescue Rack::Utils::InvalidParameterError, Rack::Utils::ParameterTypeError,
         Rack::QueryParser::ParamsTooDeepError => e
    { "orgId" => nil, "apiName" => nil, "error" => "#{e.class}: #{e.message}" }
  end
  {
    "language" => "ruby",
    "method" => env["REQUEST_METHOD"], # after Rack::MethodOverride
    "requestId" => env["HTTP_X_REQUEST_ID"],
    "orgId" => primary["orgId"],
    "userId" => primary["userId"],
    "version" => primary["version"],
    "readings" => [
      { "via" => "env['HTTP_X_CLIENT_CONTEXT']" }.merge(primary.reject { |k, _| k == "version" }),
      # The sidecar's decoded context headers, as Rack names them.
      { "via" => "env['HTTP_X_APPLINK_ORG_ID']",
        "orgId" => env["HTTP_X_APPLINK_ORG_ID"], "userId" => env["HTTP_X_APPLINK_USER_ID"] }
    ],
    "query" => query
  }
end

# Rails' and Sinatra's method override: on POST, a form-body _method, else X-HTTP-Method-Override.
use Rack::MethodOverride

run lambda { |env|
  path = env["PATH_INFO"]
  say("request #{path}")
  case path
  when "/healthcheck"
    [200, { "content-type" => "text/plain" }, ["ok"]]
  when "/slow"
    ms = Rack::Utils.parse_query(env["QUERY_STRING"]).fetch("ms", "1000").to_i
    sleep(ms / 1000.0)
    [200, { "content-type" => "text/plain" }, ["slow ok"]]
  else
    [200, { "content-type" => "application/json" }, [JSON.generate(jsonable(reading(env)))]]
  end
}
