# TAP helpers for the integration suites (sourced by sh).
# check DESC CMD...   passes when CMD exits 0
# pass DESC / fail DESC [WHY] / skip DESC REASON
# finish              prints the plan; call last
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
check() {
    desc=$1; shift
    if output=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "$output"; fi
}
finish() { echo "1..$tap_count"; [ "$tap_failed" -eq 0 ]; }

# A scratch directory removed at exit, after the commands given to
# at_exit (last given, first run): helpers stop what they started there.
scratch=$(mktemp -d /tmp/sbx-it.XXXXXX)
at_exit_commands=""
at_exit() { at_exit_commands="$1; $at_exit_commands"; }
trap 'eval "$at_exit_commands"; rm -rf "$scratch"' EXIT
