# The terminal of `sbx run`, whichever backend makes the sandbox
# ($backend_args, see run_env.sh): through a real pty (the window size, a
# resize, Ctrl-C, the exit status: tests/support/pty_check.py), and the exit
# status without one. Sourced after tests/lib.sh and tests/support/run_env.sh.
#
#   terminal_setup    once: the pty driver where every identity reads it
#   terminal_checks   every check, as the identity in use (use_identity)

terminal_setup() {
    cp tests/support/pty_check.py "$shared/"
    chmod 644 "$shared/pty_check.py"
}

terminal_checks() {
    # shellcheck disable=SC2086 # backend_args is a list of words
    out=$(as_id /usr/bin/python3 "$shared/pty_check.py" "$shared/sbx" "$proj" $backend_args 2>&1)
    relay_checks "$who: " "the pty driver ran" "$out"

    sandbox_sh none "exit 42"; code=$?
    if [ $code -eq 42 ]; then pass "$who: the exit status comes back without a terminal too"
    else fail "$who: the exit status comes back without a terminal too" "exit $code"; fi
    sandbox_sh none 'kill -KILL $$'; code=$?
    if [ $code -eq 137 ]; then pass "$who: death by a signal comes back as 128 + its number"
    else fail "$who: death by a signal comes back as 128 + its number" "exit $code"; fi
}
