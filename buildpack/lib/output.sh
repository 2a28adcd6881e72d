#!/usr/bin/env bash
# Heroku-style build output: step lines, indented detail, errors on stderr.

# A step: "-----> Installing ..."
output::step() {
  echo "-----> $*"
}

# Detail under a step, indented seven spaces.
output::info() {
  echo "       $*"
}

# A warning the user should act on, on stderr.
output::warn() {
  echo " !     $*" >&2
}

# Stops the build: what happened, then what to do, on stderr.
output::fail() {
  local line
  echo >&2
  for line in "$@"; do
    echo " !     ${line}" >&2
  done
  echo >&2
  exit 1
}
