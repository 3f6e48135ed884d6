# The terminal relay of `sbx run` (the default backend), through a real
# pty, as root and as an unprivileged user made for the test; and the exit
# status without one: tests/support/terminal_checks.sh.
. tests/lib.sh
. tests/support/run_env.sh
. tests/support/terminal_checks.sh

suite_start "the sbx run terminal relay"
terminal_setup
for identity in $identities; do
    use_identity "$identity"
    terminal_checks
done
finish
