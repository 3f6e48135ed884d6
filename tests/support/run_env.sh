# Sourced by the tests/integration/run_*.sh suites (after tests/lib.sh).
# Every check runs twice: as root (with a home of its own under the
# scratch directory) and as an unprivileged user made for this run and
# removed after it.
#
#   identities            "root user", or "root" with the reason in $no_user
#   use_identity ID       sets $who, $home, $proj, $uid for ID
#   as_id CMD...          runs CMD as the identity, environment from nothing
#   sbx_in ARGS...        as_id "$shared/sbx" ARGS...
#   sbx_run ARGS...       sbx_in run $backend_args ARGS...
#   sandbox_sh NET CMD    runs CMD with bash in a sandbox on $proj (stdio mode)
#   backend_args          the options naming the backend under test (none:
#                         the default, bubblewrap)
PATH_FOR_TESTS=/usr/local/bin:/usr/bin:/bin

# A directory every identity can read: the binary and the helpers.
shared=$(mktemp -d /tmp/sbx-run-shared.XXXXXX)
chmod 755 "$shared"
cp "$SBX" "$shared/sbx"
test_user=""
run_env_cleanup() {
    if [ -n "$test_user" ]; then
        # Only processes of the user this run created; userdel refuses
        # while any is still being torn down.
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            pkill -KILL -u "$test_user" 2> /dev/null
            userdel -r "$test_user" > /dev/null 2>&1 && break
            sleep 0.3
        done
    fi
    rm -rf "$shared"
}
at_exit run_env_cleanup
trap 'exit 1' INT TERM

no_user=""
if [ "$(id -u)" -ne 0 ]; then
    no_user="creating a test user needs root"
    identities="$(id -un)"
elif ! command -v useradd > /dev/null; then
    no_user="useradd is not installed"
    identities="root"
else
    test_user="sbxt$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
    if useradd -m -d "/home/$test_user" -s /bin/bash "$test_user" 2> "$scratch/useradd.log"; then
        identities="root user"
    else
        no_user="useradd failed: $(cat "$scratch/useradd.log")"
        test_user=""
        identities="root"
    fi
fi
extra_env=""

use_identity() {
    who=$1
    if [ "$who" = user ]; then
        home="/home/$test_user"
        uid=$(id -u "$test_user")
    else
        home="$scratch/home-$who"
        mkdir -p "$home"
        uid=$(id -u)
    fi
    proj="$home/proj"
    as_id mkdir -p "$proj"
}

as_id() {
    if [ "$who" = user ]; then
        # shellcheck disable=SC2086 # extra_env is a list of NAME=value words
        runuser -u "$test_user" -- env -i HOME="$home" PATH="$PATH_FOR_TESTS" LANG=C.UTF-8 $extra_env "$@"
    else
        # shellcheck disable=SC2086
        env -i HOME="$home" PATH="$PATH_FOR_TESTS" LANG=C.UTF-8 $extra_env "$@"
    fi
}

sbx_in() { as_id "$shared/sbx" "$@"; }

backend_args=""
# shellcheck disable=SC2086 # backend_args is a list of words
sbx_run() { sbx_in run $backend_args "$@"; }

sandbox_sh() {
    network=$1; shift
    sbx_run --shell --network "$network" "$proj" -- -c "$1" < /dev/null
}

# The state directory of $proj for the identity (from the plan).
state_dir() {
    sbx_in run --dry-run --shell "$proj" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["mounts"]:
    if m["dest"].endswith("/.local/bin"):
        print(m["source"].rsplit("/local/bin", 1)[0])'
}

# Waits (up to 20 s) until sbx ps lists a sandbox of $proj; prints its pid.
wait_running() {
    for _ in $(seq 1 200); do
        pid=$(sbx_in ps --json 2> /dev/null | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["project"] == sys.argv[1]:
        print(e["pid"]); break' "$proj")
        if [ -n "$pid" ]; then echo "$pid"; return 0; fi
        sleep 0.1
    done
    return 1
}

# Every suite starts here: with no engine in this binary there is nothing
# to test (the suite ends, skipped); without a test user, says so.
suite_start() { # WHAT
    if "$SBX" lua /dev/stdin <<'LUA' 2>&1 | grep -q missing
if not pcall(require, "sbx.sandbox") then print("missing") end
LUA
    then
        skip "$1" "this binary has no sbx.sandbox engine"
        finish; exit
    fi
    [ -n "$no_user" ] && skip "$1 as an unprivileged user" "$no_user"
    return 0
}
