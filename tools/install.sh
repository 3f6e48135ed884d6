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
echo "installed sbx and its links in $prefix/bin"
