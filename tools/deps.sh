#!/bin/sh
# make deps: installs every Debian and npm dependency of sbx, its tests and
# its benchmarks, then Claude Code. Safe to run again: it is quiet when
# everything is present and says what it installs.
set -eu
cd "$(dirname "$0")/.."

# Build.
packages="build-essential pkg-config git liblua5.4-dev lua5.4 lua-luv-dev lua-lpeg-dev
 libwebsockets-dev libwebsockets-evlib-uv libcmark-dev libturbojpeg0-dev libuv1-dev lua-cjson"
# What sandboxes and the manager run.
packages="$packages tmux xvfb chromium systemd-container qemu-system-x86 linux-image-amd64
 passt xdg-dbus-proxy busybox-static ca-certificates"
# Tests and benchmarks.
packages="$packages lua-busted lua-check luarocks python3 curl procps iproute2 util-linux
 x11-utils xauth openssh-server openssh-client wrk hyperfine imagemagick bubblewrap cpio"

missing=""
for package in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    case "$status" in *" installed") ;; *) missing="$missing $package" ;; esac
done
# Node.js may come from elsewhere (NodeSource, nvm): only its absence counts.
command -v node > /dev/null 2>&1 || missing="$missing nodejs"
command -v npm > /dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "make deps: these Debian packages are missing:$missing" >&2
        echo "make deps: run it as root (sudo make deps) to install them" >&2
        exit 1
    fi
    echo "make deps: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q > /dev/null
    # shellcheck disable=SC2086 # a list of package names
    apt-get install -y -q --no-install-recommends $missing > /tmp/sbx-apt.log 2>&1 ||
        { cat /tmp/sbx-apt.log >&2; exit 1; }
fi

# Browser assets and the browser test driver, pinned by package-lock.json.
if [ -f package-lock.json ]; then
    wanted=$(sha256sum package-lock.json | cut -d' ' -f1)
    if [ "$(cat node_modules/.sbx-lock-sha256 2>/dev/null)" != "$wanted" ]; then
        echo "make deps: installing npm packages from package-lock.json"
        npm ci --no-fund --no-audit --loglevel=error
        echo "$wanted" > node_modules/.sbx-lock-sha256
    fi
fi

# Claude Code, unless one is already there (sbx doctor tells where).
make -s all
./sbx doctor --fix --quiet | sed 's/^/make deps: /'
