# TAP helpers for the integration suites (sourced by sh).
# check DESC CMD...   passes when CMD exits 0
# pass DESC / fail DESC [WHY] / skip DESC REASON
# relay_checks PREFIX WHAT OUTPUT   a driver's own ok / not ok lines
# finish              prints the plan; call last
# end_processes PID...  ends them: SIGTERM, then SIGKILL after 5 s
# procs ARGS...       tests/support/procs.lua: process trees, identities
SBX=${SBX:-$PWD/sbx}
tap_count=0
tap_failed=0

pass() { tap_count=$((tap_count + 1)); echo "ok $tap_count - $1"; }
fail() {
    tap_count=$((tap_count + 1)); tap_failed=$((tap_failed + 1))
    echo "not ok $tap_count - $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /'
    return 0
}
skip() { tap_count=$((tap_count + 1)); echo "ok $tap_count - $1 # SKIP $2"; }
# relay_checks PREFIX WHAT OUTPUT: OUTPUT's "ok NAME" / "not ok NAME" lines
# (a driver's, such as tests/support/pty_check.py) as checks named PREFIX
# NAME; a failure named PREFIX WHAT when there is no such line at all.
relay_checks() {
    case "$3" in *"ok "*) ;; *) fail "$1$2" "$3" ;; esac
    while IFS= read -r line; do
        case "$line" in
            "ok "*) pass "$1${line#ok }" ;;
            "not ok "*) fail "$1${line#not ok }" ;;
        esac
    done <<LINES
$3
LINES
}
check() {
    desc=$1; shift
    if output=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "$output"; fi
}
finish() { echo "1..$tap_count"; [ "$tap_failed" -eq 0 ]; }

procs() { "$SBX" lua "$PWD/tests/support/procs.lua" -- "$@"; }

# Asked first, Xvfb, tmux and the like remove their lock files and sockets
# themselves; only what is still there after 5 s gets SIGKILL. A zombie
# has ended (its parent, often init, reaps it).
end_processes() {
    end_tries=0
    while :; do
        end_left=""
        for end_pid in "$@"; do
            case "$(ps -o stat= -p "$end_pid" 2> /dev/null)" in ""|Z*) ;; *) end_left="$end_left $end_pid" ;; esac
        done
        [ -z "$end_left" ] && return 0
        [ $end_tries -eq 0 ] && kill -TERM $end_left 2> /dev/null
        [ $end_tries -ge 50 ] && { kill -KILL $end_left 2> /dev/null; return 0; }
        end_tries=$((end_tries + 1))
        sleep 0.1
    done
}

# A scratch directory removed at exit, after the commands given to
# at_exit (last given, first run): helpers stop what they started there.
scratch=$(mktemp -d /tmp/sbx-it.XXXXXX)
at_exit_commands=""
at_exit() { at_exit_commands="$1; $at_exit_commands"; }
trap 'eval "$at_exit_commands"; rm -rf "$scratch"' EXIT
