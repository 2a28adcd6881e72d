#!/usr/bin/env bash
# Reading the app's Procfile and telling the user whether the web process runs behind the sidecar.
# Needs lib/output.sh.

# Prints guidance for the Procfile in app folder $1.
procfile::guide() {
  local procfile="$1/Procfile" web
  output::step "Checking the Procfile"
  if [[ ! -f "${procfile}" ]]; then
    output::warn "No Procfile: add one whose web process runs behind the sidecar, for example:"
    output::warn "  web: APP_PORT=3000 heroku-applink-service-mesh npm start"
    return
  fi
  web=$(awk '/^web:/ { sub(/^web:[[:space:]]*/, ""); print; exit }' "${procfile}")
  if [[ -z "${web}" ]]; then
    output::warn "The Procfile has no web process: Salesforce can only call a web process."
    output::warn "Add one that runs behind the sidecar, for example:"
    output::warn "  web: APP_PORT=3000 heroku-applink-service-mesh npm start"
  elif [[ "${web}" == *heroku-applink-service-mesh* ]]; then
    output::info "The web process runs behind heroku-applink-service-mesh"
  else
    # The app moves to APP_PORT: $PORT in its command would be expanded to the public port, which
    # the sidecar takes, so the suggestion uses the app port instead.
    local app_command="${web//\$\{PORT\}/3000}"
    app_command="${app_command//\$PORT/3000}"
    output::warn "The web process does not run behind heroku-applink-service-mesh, so requests are not authenticated."
    output::warn "Change the web line of the Procfile to (with your app listening on APP_PORT):"
    output::warn "  web: APP_PORT=3000 heroku-applink-service-mesh ${app_command}"
  fi
}
