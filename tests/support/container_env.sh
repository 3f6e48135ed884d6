# Sourced by the tests/integration/container_*.sh suites, after run_env.sh.
# Their checks run as root, which systemd-nspawn needs, on sandboxes of
# `sbx run --backend container`; the unprivileged user made for the run
# checks only that it is refused, with sudo named.
#
#   container_suite_start WHAT   skips the suite (with the reason) without
#                                systemd-nspawn or root; sets backend_args
#   container_refusal_check      the unprivileged user's refusal (and plan)
#   registration FIELD           FIELD of the registration of $proj's sandbox

container_suite_start() { # WHAT
    suite_start "$1"
    if ! command -v systemd-nspawn > /dev/null; then
        skip "$1" "systemd-nspawn is not installed (apt-get install systemd-container)"
        finish; exit
    fi
    if [ "$(id -u)" -ne 0 ]; then
        skip "$1" "the suite is not root, which systemd-nspawn needs"
        finish; exit
    fi
    backend_args="--backend container"
}

container_refusal_check() {
    [ -n "$test_user" ] || return 0 # suite_start said why
    use_identity user
    out=$(sbx_run --shell --network none "$proj" -- -c 'echo RAN' < /dev/null 2>&1); code=$?
    stop_out=$(sbx_run --stop "$proj" 2>&1); stop_code=$?
    if [ $code -ne 0 ] && [ $stop_code -ne 0 ] && ! printf '%s' "$out" | grep -q RAN \
        && printf '%s' "$out" | grep -q "needs root" && printf '%s' "$out" | grep -q "sudo sbx run --backend container" \
        && printf '%s' "$stop_out" | grep -q "sudo"; then
        pass "user: the container backend refuses an unprivileged user, naming sudo"
    else fail "user: the container backend refuses an unprivileged user, naming sudo" \
        "exit $code: $out; --stop exit $stop_code: $stop_out"; fi
    # Printing the plan needs no privilege.
    out=$(sbx_run --dry-run --shell "$proj" 2>&1); code=$?
    if [ $code -eq 0 ] && printf '%s' "$out" | python3 -c '
import json, sys
assert json.load(sys.stdin)["backend"] == "container"'; then
        pass "user: --dry-run prints the container plan without root"
    else fail "user: --dry-run prints the container plan without root" "exit $code: $out"; fi
    use_identity root
}

registration() { # FIELD
    cat "$(state_dir | sed 's|/projects/\(.*\)$|/running/\1|')".*.json 2> /dev/null \
        | python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())[sys.argv[1]])' "$1"
}
