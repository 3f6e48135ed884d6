# sbx manager under hostile and heavy input: malformed HTTP, random and
# broken JSON, huge headers, slowloris clients — against ./sbx and against
# the AddressSanitizer build — and 200 concurrent clients with wrk.
. tests/lib.sh
. tests/support/manager.sh

fuzz_against() { # BINARY LABEL
    binary=$1 label=$2
    state="$scratch/fuzz-$label"
    SBX=$binary manager_start "$state" || { fail "$label: the manager starts"; return; }
    if python3 tests/support/http_fuzz.py "$PORT" "$TOKEN" 4242 300 > "$scratch/fuzz.out" 2>&1; then
        pass "$label: malformed HTTP, JSON and slow clients get answers or closes, never a crash"
    else fail "$label: malformed HTTP, JSON and slow clients get answers or closes, never a crash" \
        "$(head -20 "$scratch/fuzz.out"; tail -20 "$state.out")"; fi
    if kill -0 "$MANAGER_PID" 2>/dev/null && ! grep -q "ERROR: AddressSanitizer\|runtime error:" "$state.out"; then
        pass "$label: the manager is alive and nothing was reported"
    else fail "$label: the manager is alive and nothing was reported" "$(tail -30 "$state.out")"; fi
    check "$label: nothing was made" sh -c "curl -s -H 'Authorization: Bearer $TOKEN' $URL/api/sandboxes | grep -qx '\[\]'"
    manager_stop
    if ! grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$state.out"; then
        pass "$label: it stops with no sanitizer report"
    else fail "$label: it stops with no sanitizer report" "$(grep -A20 'Sanitizer\|runtime error' "$state.out" | head -40)"; fi
}

fuzz_against "$PWD/sbx" sbx

# The sanitizer build is made here when missing (make is incremental).
if make -s asan > "$scratch/asan-build.log" 2>&1; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
        fuzz_against "$PWD/sbx-asan" sbx-asan
else
    fail "make asan builds ./sbx-asan" "$(tail -20 "$scratch/asan-build.log")"
fi

# 200 concurrent clients on the list, with sandboxes in it.
state="$scratch/load"
manager_start "$state"
mkdir -p "$scratch/project"
for i in 1 2 3 4 5; do
    api POST /api/sandboxes -H 'Content-Type: application/json' \
        -d "{\"name\":\"load-$i\",\"backend\":\"bubblewrap\",\"project_dir\":\"$scratch/project\",\"network\":\"host\"}" > /dev/null
done
wrk -t 2 -c 200 -d 5s -H "Authorization: Bearer $TOKEN" "$URL/api/sandboxes" > "$scratch/wrk.out" 2>&1
requests=$(sed -n 's/^ *\([0-9][0-9]*\) requests in.*/\1/p' "$scratch/wrk.out")
if [ -n "$requests" ] && [ "$requests" -gt 0 ] && ! grep -q "Socket errors\|Non-2xx" "$scratch/wrk.out"; then
    pass "200 concurrent clients (wrk): $requests requests, no errors, no non-2xx"
else fail "200 concurrent clients (wrk): no errors" "$(cat "$scratch/wrk.out")"; fi
check "the manager still answers after the load" test "$(api GET /api/sandboxes)" = 200
manager_stop
finish
