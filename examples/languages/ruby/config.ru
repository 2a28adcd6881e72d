# An AppLink app in Ruby: a Rack app on Puma, with the standard library only (base64 via
# String#unpack1, json).
#
# Procfile: web: APP_PORT=3000 heroku-applink-service-mesh puma -C config/puma.rb config.ru
# Puma listens on $PORT (config/puma.rb), which the sidecar sets to the app's port.
require "json"

def say(line)
  $stdout.puts("app: #{line}")
  $stdout.flush
end

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
    # Rack reads the header as HTTP_X_CLIENT_CONTEXT.
    encoded = env["HTTP_X_CLIENT_CONTEXT"]
    next [401, { "content-type" => "text/plain" }, ["no client context"]] if encoded.nil?

    # "m0" is strict base64 (RFC 4648): no line feeds, padding required.
    context = JSON.parse(encoded.unpack1("m0"))
    body = JSON.generate(
      language: "ruby",
      orgId: context["orgId"],
      userId: context.dig("userContext", "userId"),
      requestId: env["HTTP_X_REQUEST_ID"],
      version: context["version"]
    )
    [200, { "content-type" => "application/json" }, [body]]
  end
}
