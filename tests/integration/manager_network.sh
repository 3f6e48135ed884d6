# From inside a sandbox with network private (or none), the manager cannot
# be reached: not on loopback, not through the gateway, not at the
# sandbox's own address. The sandbox is made by the real `sbx run` exactly as the manager
# starts it (--new --backend bubblewrap --network MODE), with a shell to
# probe from instead of Claude; network host is the control that shows the
# probe does reach the manager when nothing stops it.
. tests/lib.sh
. tests/support/manager.sh

if ! command -v pasta > /dev/null 2>&1; then
    skip "network private keeps the manager out of reach" "pasta (package passt) is not installed"
    finish
    exit 0
fi

state="$scratch/state"
manager_start "$state" || { fail "the manager starts"; finish; exit 1; }
project="$scratch/project"
mkdir -p "$project"

# Prints, for each address, "ADDRESS CODE" as curl sees it from inside.
probe() { # NETWORK
    HOME="$SANDBOX_HOME" "$SBX" run --new --backend bubblewrap --network "$1" --shell "$project" -- -c "
        gateway=\$(ip route 2>/dev/null | sed -n 's/^default via \([^ ]*\).*/\1/p')
        own=\$(ip -4 addr show scope global 2>/dev/null | sed -n 's/.*inet \([0-9.]*\).*/\1/p' | head -1)
        for address in 127.0.0.1 localhost \$gateway \$own; do
            echo \"\$address \$(curl -s -m 3 -o /dev/null -w '%{http_code}' http://\$address:$PORT/api/sandboxes)\"
        done" 2>&1
}

out=$(probe host)
if echo "$out" | grep -q "^127.0.0.1 401"; then pass "control: from a network host sandbox the probe reaches the manager (401)"
else fail "control: from a network host sandbox the probe reaches the manager (401)" "$out"; fi

for mode in private none; do
    out=$(probe $mode)
    reached=$(echo "$out" | awk '$2 ~ /^[1-5][0-9][0-9]$/')
    if [ -n "$out" ] && echo "$out" | grep -q "^127.0.0.1 000" && [ -z "$reached" ]; then
        pass "network $mode: the manager is unreachable (loopback, gateway, own address)"
    else fail "network $mode: the manager is unreachable (loopback, gateway, own address)" "$out"; fi
done
manager_stop
finish
