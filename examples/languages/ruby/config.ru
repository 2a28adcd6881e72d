# An AppLink app in Ruby: a Rack app on Puma, with the standard library (base64 via
# String#unpack1, json, openssl) and Rack's own middleware and request helpers. With
# $HEROKU_APPLINK_MESH_ASSERTION_KEY set, it first verifies the sidecar's X-Applink-Assertion (a JWT).
#
# Procfile: web: APP_PORT=3000 heroku-applink-service-mesh puma -C config/puma.rb config.ru
# Puma listens on $PORT (config/puma.rb), which the sidecar sets to the app's port. Every route but
# /healthcheck and /slow answers with what this runtime read: method, client context, AppLink
# headers and query.
require "json"
require "openssl"

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

# The key the sidecar signs its assertions with: the variable's text as it is, never base64-decoded.
ASSERTION_KEY = ENV.fetch("HEROKU_APPLINK_MESH_ASSERTION_KEY", "")

# Rack middleware, first of all: with a key, every route (/healthcheck and /slow included) answers
# only a request with a valid assertion, whose claims it keeps in env["applink.assertion"].
class AssertionCheck
  def initialize(app)
    @app = app
  end

  def call(env)
    return @app.call(env) if ASSERTION_KEY.empty?

    claims = verify_assertion(env)
    return [403, { "content-type" => "text/plain" }, ["assertion refused: #{claims}"]] if claims.is_a?(String)

    env["applink.assertion"] = claims
    @app.call(env)
  end

  # The sidecar's X-Applink-Assertion, a JWT signed HS256, checked against this very request: its
  # claims (a Hash), or the reason to refuse the request (a String).
  def verify_assertion(env)
    token = env["HTTP_X_APPLINK_ASSERTION"]
    return "missing" if token.nil?

    parts = token.split(".", -1)
    return "malformed" unless parts.length == 3

    header, claims = parts[0, 2].map { |part| JSON.parse(base64url(part)) }
    signature = base64url(parts[2])
    return "malformed" unless header.is_a?(Hash) && claims.is_a?(Hash)
    return "algorithm" unless header["alg"] == "HS256"

    expected = OpenSSL::HMAC.digest("SHA256", ASSERTION_KEY, "#{parts[0]}.#{parts[1]}")
    return "signature" unless Rack::Utils.secure_compare(expected, signature) # constant time
    return "issuer" unless claims["iss"] == "heroku-applink-service-mesh"
    return "expired" unless claims["exp"].is_a?(Numeric) && claims["exp"] > Time.now.to_i
    # The request line's method (this runs before Rack::MethodOverride) and its path as Puma gives
    # it: percent-encoding kept, without the query.
    return "method" unless claims["method"] == env["REQUEST_METHOD"]
    return "path" unless claims["path"] == env["PATH_INFO"]

    claims
  rescue ArgumentError, JSON::ParserError
    "malformed"
  end

  # A JWT part: base64url without padding, read as strict base64 ("m0") once its alphabet and
  # padding are restored.
  def base64url(part)
    raise ArgumentError, "not base64url" unless part.match?(/\A[A-Za-z0-9_-]*\z/)

    part.tr("-_", "+/").ljust((part.length + 3) & ~3, "=").unpack1("m0")
  end
end

def reading(env)
  primary = client_context(env["HTTP_X_CLIENT_CONTEXT"])
  claims = env["applink.assertion"]
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
    "query" => query,
    # The verified assertion's claims, null for an absent one; null altogether without a key.
    "assertion" => claims && %w[kind orgId userId jti].to_h { |name| [name, claims[name]] }
  }
end

# First of all, the sidecar's assertion (on the request as it came, before the override below).
use AssertionCheck
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
