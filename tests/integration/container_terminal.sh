# The terminal of `sbx run --backend container`, which nspawn relays
# (--console=interactive): the checks of run_terminal.sh
# (tests/support/terminal_checks.sh), as root.
. tests/lib.sh
. tests/support/run_env.sh
. tests/support/terminal_checks.sh
. tests/support/container_env.sh

container_suite_start "the sbx run --backend container terminal"
terminal_setup
use_identity root
terminal_checks
finish
