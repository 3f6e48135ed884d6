# The terminal relay of `sbx run`, through a real pty, as root and as an
# unprivileged user made for the test; and the exit status without one.
. tests/lib.sh
. tests/support/run_env.sh

suite_start "the sbx run terminal relay"
cp tests/support/pty_check.py "$shared/"
chmod 644 "$shared/pty_check.py"

for identity in $identities; do
    use_identity "$identity"
    out=$(as_id /usr/bin/python3 "$shared/pty_check.py" "$shared/sbx" "$proj" 2>&1)
    case "$out" in *"ok "*) ;; *) fail "$who: the pty driver ran" "$out" ;; esac
    while IFS= read -r line; do
        case "$line" in
            "ok "*) pass "$who: ${line#ok }" ;;
            "not ok "*) fail "$who: ${line#not ok }" ;;
        esac
    done <<LINES
$out
LINES

    sandbox_sh none "exit 42"; code=$?
    if [ $code -eq 42 ]; then pass "$who: the exit status comes back without a terminal too"
    else fail "$who: the exit status comes back without a terminal too" "exit $code"; fi
    sandbox_sh none 'kill -KILL $$'; code=$?
    if [ $code -eq 137 ]; then pass "$who: death by a signal comes back as 128 + its number"
    else fail "$who: death by a signal comes back as 128 + its number" "exit $code"; fi
done
finish
