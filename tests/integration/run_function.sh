# What must work inside an `sbx run` sandbox (the default backend), as root
# and as an unprivileged user made for the test: the checks of
# tests/support/function_checks.sh, and sbx doctor's own test of pasta.
. tests/lib.sh
. tests/support/run_env.sh
. tests/support/model_server.sh
. tests/support/function_checks.sh

suite_start "sbx run function checks"
function_setup
for identity in $identities; do
    use_identity "$identity"
    echo "# ---- as $who (uid $uid)"

    if command -v pasta > /dev/null; then
        out=$(sbx_in doctor --json 2>&1)
        if printf '%s' "$out" | python3 -c '
import json, sys
pasta = [r for r in json.load(sys.stdin) if r["id"] == "pasta"][0]
assert pasta["status"] == "ok" and pasta.get("works") is True, pasta'; then
            pass "$who: sbx doctor attaches pasta to a fresh network namespace"
        else fail "$who: sbx doctor attaches pasta to a fresh network namespace" "$out"; fi
    else skip "$who: doctor's pasta check" "pasta is not installed"; fi

    function_checks
done
finish
