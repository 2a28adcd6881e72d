#!/usr/bin/env bash
# Finding, verifying and installing the heroku-applink-service-mesh binary; shared by the classic
# (bin/compile) and Cloud Native (bin/build) entry points. Needs lib/output.sh.
#
# Globals read: BUILDPACK_DIR (this buildpack's folder).

: "${BUILDPACK_DIR:?lib/install.sh needs BUILDPACK_DIR}"

readonly MESH_NAME="heroku-applink-service-mesh"
readonly VERSION_VAR="HEROKU_APPLINK_SERVICE_MESH_RELEASE_VERSION"
readonly URL_VAR="HEROKU_APPLINK_SERVICE_MESH_DOWNLOAD_URL"

# The architecture to install for, in Go's names (amd64, arm64): the CNB platform's target
# (CNB_TARGET_ARCH, set by the lifecycle for the image being built), else this machine's (uname -m).
install::arch() {
  local machine="${CNB_TARGET_ARCH:-}"
  [[ -n "${machine}" ]] || machine=$(uname -m)
  case "${machine}" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *)
      output::fail "Unsupported architecture: ${machine}." \
        "heroku-applink-service-mesh is built for amd64 (x86_64) and arm64 (aarch64) only."
      ;;
  esac
}

# The version this buildpack carries: its own version, from buildpack.toml.
install::packaged_version() {
  awk -F'"' '/^version = / { print $2; exit }' "${BUILDPACK_DIR}/buildpack.toml"
}

# The value of config var $2 from a folder of config var files $1 (ENV_DIR, <platform>/env).
install::config_var() {
  local dir="$1" name="$2"
  if [[ -n "${dir}" && -f "${dir}/${name}" ]]; then
    cat "${dir}/${name}"
  fi
}

# The version to install: the config var (a leading "v" ignored; "latest" is the packaged version),
# or the packaged version.
install::requested_version() {
  local requested="$1" packaged="$2"
  requested="${requested#v}"
  if [[ -z "${requested}" || "${requested}" == "latest" ]]; then
    echo "${packaged}"
  else
    echo "${requested}"
  fi
}

# The sha256 recorded for version $1 and architecture $2; fails the build with a message saying
# what is known when there is none.
install::expected_checksum() {
  local version="$1" arch="$2" file="${BUILDPACK_DIR}/checksums" sha archs versions packaged
  sha=$(awk -v v="${version}" -v a="${arch}" '$1 == v && $2 == a { print $3; exit }' "${file}")
  if [[ -n "${sha}" ]]; then
    echo "${sha}"
    return
  fi
  archs=$(awk -v v="${version}" '$1 == v { printf "%s ", $2 }' "${file}")
  packaged=$(install::packaged_version)
  if [[ -n "${archs}" && "${version}" == "${packaged}" ]]; then
    output::fail "This buildpack was packaged without a binary for ${arch}: it carries ${version} for ${archs% } only." \
      "Package it again with bin/package, which builds amd64 and arm64, and add that buildpack."
  fi
  if [[ -n "${archs}" ]]; then
    output::fail "Version ${version} has no binary for ${arch} (it has: ${archs% })." \
      "Pick a version built for ${arch}, or unset ${VERSION_VAR} to use the packaged version."
  fi
  if [[ ! -d "${BUILDPACK_DIR}/binaries" ]]; then
    install::fail_source_folder "${version}"
  fi
  versions=$(awk '!seen[$1]++ { printf "%s ", $1 }' "${file}")
  versions="${versions% }"
  output::fail "Unknown version ${version}: this buildpack has no checksum for it, so it cannot verify it." \
    "Known versions: ${versions:-none}." \
    "Set ${VERSION_VAR} to one of them, or unset it to use the packaged version."
}

install::sha256() {
  local sum
  sum=$(sha256sum "$1")
  echo "${sum%% *}"
}

# Downloads $1 to $2 with retries; fails the build on a 404 or after the retries.
install::download() {
  local url="$1" dest="$2" status
  status=0
  curl --fail --silent --show-error --location --connect-timeout 5 --max-time 120 \
    --retry 3 --retry-delay 1 --retry-connrefused --output "${dest}" "${url}" 2>"${dest}.err" || status=$?
  if [[ "${status}" -eq 0 ]]; then
    rm -f "${dest}.err"
    return
  fi
  # curl prints one line per attempt; the last says why it gave up.
  local why
  why=$(tail -n 1 "${dest}.err")
  rm -f "${dest}" "${dest}.err"
  if [[ "${status}" -eq 22 ]]; then
    output::fail "Download failed: ${url}" "${why}" \
      "Check ${URL_VAR} and ${VERSION_VAR}: the server has no such file."
  fi
  output::fail "Download failed after retries (curl exit ${status}): ${url}" "${why}" \
    "Check that ${URL_VAR} is reachable from the build, or unset it to use the packaged binary."
}

# Decides what this build installs, from the config var files in folder $1 (may be empty). Sets
# INSTALL_ARCH, INSTALL_VERSION, INSTALL_REQUESTED (the config var, or empty), INSTALL_SHA256 (the
# recorded checksum) and INSTALL_BASE_URL (the download URL, or empty); fails the build for a
# version or architecture it cannot verify, and in the source folder, which carries no binary.
install::plan() {
  local env_dir="$1" packaged requested
  INSTALL_ARCH=$(install::arch)
  packaged=$(install::packaged_version)
  requested=$(install::config_var "${env_dir}" "${VERSION_VAR}")
  INSTALL_VERSION=$(install::requested_version "${requested}" "${packaged}")
  INSTALL_BASE_URL=$(install::config_var "${env_dir}" "${URL_VAR}")
  INSTALL_REQUESTED="${requested}"
  # The source folder carries no binary, whatever buildpack/checksums says: bin/package appends the
  # release's lines there before a release is tagged, and that must not change this answer.
  if [[ -z "${INSTALL_BASE_URL}" && ! -d "${BUILDPACK_DIR}/binaries" ]]; then
    install::fail_source_folder "${INSTALL_VERSION}"
  fi
  INSTALL_SHA256=$(install::expected_checksum "${INSTALL_VERSION}" "${INSTALL_ARCH}")
}

# Fails the build of the buildpack's source folder, which carries no binary: how to package it.
install::fail_source_folder() {
  output::fail "This is the buildpack's source folder: it carries no binary for ${1}." \
    "Package it with bin/package (see Releasing in docs/architecture.md) and add the packaged buildpack:" \
    "heroku buildpacks:add --index 1 <URL of heroku-applink-service-mesh-buildpack-${1}.tgz>"
}

# Puts a verified binary at $1, as install::plan decided (call it first). Uses, in order: a download
# when the download URL is set; the binary the buildpack carries; the cache folder $2 (if not
# empty) for a downloaded version.
install::obtain() {
  local dest="$1" cache="$2"
  local arch="${INSTALL_ARCH:?install::plan first}" version="${INSTALL_VERSION}"
  local expected="${INSTALL_SHA256}" base="${INSTALL_BASE_URL}" carried name actual
  name="${MESH_NAME}-${version}-${arch}"
  carried="${BUILDPACK_DIR}/binaries/${name}"

  output::step "Installing heroku-applink-service-mesh ${version} (${arch})"
  if [[ -z "${base}" && -f "${carried}" ]]; then
    actual=$(install::sha256 "${carried}")
    [[ "${actual}" == "${expected}" ]] ||
      output::fail "The binary this buildpack carries does not match its checksum." \
        "The buildpack is damaged: use a fresh copy of the buildpack."
    output::info "Using the binary packaged with this buildpack"
    cp "${carried}" "${dest}"
  elif install::cached "${cache}/${name}" "${expected}"; then
    output::info "Using the cached download of ${version}"
    cp "${cache}/${name}" "${dest}"
  elif [[ -z "${base}" && -n "${INSTALL_REQUESTED}" ]]; then
    output::fail "This buildpack does not carry version ${version} for ${arch}." \
      "Set ${URL_VAR} to where release binaries are published, or unset ${VERSION_VAR}."
  elif [[ -z "${base}" ]]; then
    output::fail "This buildpack does not carry its own version ${version} for ${arch}: it is damaged." \
      "Use a fresh copy of the packaged buildpack, or package it again with bin/package."
  else
    local url="${base%/}/${version}/${name}"
    output::info "Downloading ${url}"
    install::download "${url}" "${dest}.download"
    actual=$(install::sha256 "${dest}.download")
    if [[ "${actual}" != "${expected}" ]]; then
      rm -f "${dest}.download"
      output::fail "Checksum mismatch for ${url}:" \
        "expected ${expected}, got ${actual}. The file was deleted and nothing was installed." \
        "Check ${URL_VAR}: it must serve the official release binaries."
    fi
    output::info "Verified sha256 ${actual}"
    if [[ -n "${cache}" ]]; then
      mkdir -p "${cache}"
      rm -f "${cache}/${MESH_NAME}-"*
      cp "${dest}.download" "${cache}/${name}"
    fi
    mv "${dest}.download" "${dest}"
  fi
  chmod +x "${dest}"
}

# Whether file $1 exists and has sha256 $2.
install::cached() {
  local file="$1" expected="$2" actual
  [[ -f "${file}" ]] || return 1
  actual=$(install::sha256 "${file}")
  [[ "${actual}" == "${expected}" ]]
}

# Links the names older Procfiles use next to the binary in folder $1: the legacy
# heroku-applink-service-mesh-latest-<arch>, and the pilot-era heroku-integration-service-mesh.
install::legacy_link() {
  local dir="$1"
  ln -sfn "${MESH_NAME}" "${dir}/${MESH_NAME}-latest-${INSTALL_ARCH:?install::plan first}"
  ln -sfn "${MESH_NAME}" "${dir}/heroku-integration-service-mesh"
}

# Runs the installed binary's -v; fails the build when it does not run.
install::smoke_test() {
  local binary="$1" said
  if ! said=$("${binary}" -v 2>&1); then
    output::fail "The installed heroku-applink-service-mesh does not run on this stack:" "${said}" \
      "Use the packaged version (unset ${VERSION_VAR}) or a version built for this stack."
  fi
  output::info "${said}"
}
