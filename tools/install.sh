#!/bin/sh
# make install: the binary, the names of the Nix original's commands as
# links to it (sbx dispatches on argv[0]), and the browser assets.
set -eu
prefix=$1
binary=$2
install -d "$prefix/bin" "$prefix/share/sbx"
install -m 0755 "$binary" "$prefix/bin/sbx"
for name in claude-sandbox claude-sandbox-container claude-sandbox-vm claude-sandbox-manager claude-remote; do
    ln -sf sbx "$prefix/bin/$name"
done
# The dashboard's browser libraries, from the npm packages (make deps).
install -d "$prefix/share/sbx/vendor"
for asset in htmx.org/dist/htmx.min.js @xterm/xterm/lib/xterm.js @xterm/xterm/css/xterm.css \
    @xterm/addon-fit/lib/addon-fit.js; do
    if [ ! -f "node_modules/$asset" ]; then
        echo "install: node_modules/$asset is missing: run make deps first" >&2
        exit 1
    fi
    install -m 0644 "node_modules/$asset" "$prefix/share/sbx/vendor/"
done
echo "installed sbx and its links in $prefix/bin, the dashboard's assets in $prefix/share/sbx"
