# The escape attempts of run_escape.sh (tests/support/escape_checks.sh)
# against `sbx run --backend container`, a systemd-nspawn container: as
# root, which nspawn needs; an unprivileged user is refused.
. tests/lib.sh
. tests/support/run_env.sh
. tests/support/escape_checks.sh
. tests/support/container_env.sh

container_suite_start "sbx run --backend container escape attempts"
escape_setup
use_identity root
echo "# ---- as root, --backend container"
escape_checks
container_refusal_check
finish
