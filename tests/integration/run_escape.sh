# Escape attempts from an `sbx run` sandbox (the default backend), each
# expected to fail, as root and as an unprivileged user made for the test:
# tests/support/escape_checks.sh.
. tests/lib.sh
. tests/support/run_env.sh
. tests/support/escape_checks.sh

suite_start "sbx run escape attempts"
escape_setup
for identity in $identities; do
    use_identity "$identity"
    echo "# ---- as $who (uid $uid)"
    escape_checks
done
finish
