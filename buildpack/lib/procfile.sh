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
    procfile::check_app_port "${web#*heroku-applink-service-mesh}"
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

# Warns when the app command in the sidecar's arguments $1 gets $PORT: the shell expands it to the
# public port, which the sidecar holds, so the app would fail with "address in use". Also when it
# gets $PORT or $APP_PORT in single quotes as an argument of a program that is not a shell: the
# sidecar starts the app without a shell, so the app gets the literal text.
procfile::check_app_port() {
  local words i=0
  read -ra words <<<"$1"
  # Skip the sidecar's own options (`--port $PORT` is right there), up to the app command.
  while [[ ${i} -lt ${#words[@]} ]]; do
    case "${words[i]}" in
      --) i=$((i + 1)) && break ;;
      -p | --port | --config) i=$((i + 2)) ;;
      -*) i=$((i + 1)) ;;
      *) break ;;
    esac
  done
  local app_command="${words[*]:i}" unquoted
  # Single-quoted text is expanded later, by the shell the sidecar starts, where PORT is the
  # app's port: only what the Procfile's own shell expands counts.
  # shellcheck disable=SC2001 # a regular expression, which ${var//…} cannot express
  unquoted=$(sed "s/'[^']*'//g" <<<"${app_command}")
  # shellcheck disable=SC2016 # the literal text $PORT, as the Procfile has it
  local bare='\$PORT([^A-Za-z0-9_]|$)' braced='\$\{PORT[}:]'
  local quoted="'[^']*\\\$\\{?(APP_)?PORT"
  if [[ "${unquoted}" =~ ${bare} || "${unquoted}" =~ ${braced} ]]; then
    output::warn "The app command gets \$PORT, which is the sidecar's port: the app would fail with \"address in use\"."
    output::warn "Give the app its own port as a number (--port 3000 with APP_PORT=3000), or \$APP_PORT if APP_PORT is a config var:"
    output::warn "on a line that sets APP_PORT=3000 itself, \$APP_PORT expands to nothing (the shell expands the line first)."
  elif [[ "${app_command}" =~ ${quoted} ]] && ! procfile::through_a_shell "${words[@]:i}"; then
    output::warn "The app command gets \$PORT in single quotes: the sidecar starts the app without a shell, so the app gets the literal text."
    output::warn "Write the app's port as a number (--port 3000 with APP_PORT=3000), or run the command through a shell: -- sh -c 'app --port \$PORT'."
  fi
}

# Whether the app command (words $@) reaches a shell that expands what is quoted: `sh -c '…'`, or the
# whole command in one pair of quotes, which the sidecar runs through /bin/sh.
procfile::through_a_shell() {
  case "$1" in
    \'*) return 0 ;;
    sh | bash | dash | zsh | */sh | */bash | */dash | */zsh) [[ "$2" == -*c* ]] ;;
    *) return 1 ;;
  esac
}
