# The engine's sandbox spec again, as an unprivileged user: what a normal
# user gets must work without any privilege.
. tests/lib.sh
if [ "$(id -u)" -ne 0 ]; then
    echo "# already unprivileged: tests/lua/sandbox_spec.lua covers this run"
    skip "sandbox spec as an unprivileged user" "the suite runs as uid $(id -u) already"
    finish; exit
fi
# nobody: no home, no groups; the spec only needs /tmp. Not exec'd: the
# scratch directory tests/lib.sh made is removed at exit.
setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
    "$SBX" lua /usr/bin/busted -- tests/lua/sandbox_spec.lua
