# sbx manager's lifecycle with the real `sbx run`: liveness, restarts (clean
# and SIGKILL) that leave sandboxes running, a corrupt state file, and a
# SIGKILL in the middle of a burst of creates and stops.
. tests/lib.sh
. tests/support/manager.sh

project="$scratch/project"
mkdir -p "$project"
create() { # NAME [NETWORK] -> status; body in $scratch/body
    api POST /api/sandboxes -H 'Content-Type: application/json' \
        -d "{\"name\":\"$1\",\"backend\":\"bubblewrap\",\"project_dir\":\"$project\",\"network\":\"${2:-host}\"}"
}
field() { api GET "/api/sandboxes/$1" > /dev/null; json "b[\"$2\"]"; }
pane_pid() { tmux -S "$state/tmux.sock" list-panes -t "=sandbox-$(echo "$1" | cut -c1-8):" -F '#{pane_pid}' 2>/dev/null; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; }
no_zombies() { ! ps -o stat= --ppid "$MANAGER_PID" | grep -q '^Z'; }

state="$scratch/state"
manager_start "$state" || { fail "the manager starts"; finish; exit 1; }

status=$(create alive)
alive_id=$(json 'b["id"]')
alive_display=$(json 'b["display_num"]')
cp "$state/fb/$alive_id/Xauthority" "$scratch/alive.xauth"
alive_xvfb=$(json 'b["pid_xvfb"]')
check "a sandbox is made (201)" test "$status" = 201
sleep 3
pane=$(pane_pid "$alive_id")
if alive "$pane" && [ "$(field "$alive_id" status)" = running ] && pgrep -P "$pane" > /dev/null; then
    pass "it runs: sbx run in its tmux pane, with children"
else fail "it runs: sbx run in its tmux pane, with children" "pane '$pane'; $(tail -c 600 "$state/logs/$alive_id.log" 2>/dev/null)"; fi

# Liveness: a session that ends makes the sandbox dead within the 5 s tick.
status=$(create short)
short_id=$(json 'b["id"]')
short_display=$(json 'b["display_num"]')
short_xvfb=$(json 'b["pid_xvfb"]')
cp "$state/fb/$short_id/Xauthority" "$scratch/short.xauth"
sleep 1
tmux -S "$state/tmux.sock" kill-session -t "=sandbox-$(echo "$short_id" | cut -c1-8)"
if wait_for "dead" 8 sh -c "curl -s -H 'Authorization: Bearer $TOKEN' $URL/api/sandboxes/$short_id | grep -q '\"status\":\"dead\"'"; then
    pass "a sandbox whose session ended is dead within the liveness tick"
else fail "a sandbox whose session ended is dead within the liveness tick" "$(field "$short_id" status)"; fi
check "its Xvfb is stopped" sh -c "! XAUTHORITY='$scratch/short.xauth' xdpyinfo -display :$short_display > /dev/null 2>&1"
check "and reaped: the manager has no zombie children" no_zombies
check "its Xvfb process is gone" sh -c "! kill -0 $short_xvfb 2>/dev/null || ps -o stat= -p $short_xvfb | grep -q Z"

# A running sandbox survives a clean restart and a SIGKILL.
for how in TERM KILL; do
    manager_stop $how
    manager_start "$state"
    if [ "$(field "$alive_id" status)" = running ] && alive "$pane" && alive "$alive_xvfb" &&
        XAUTHORITY="$scratch/alive.xauth" xdpyinfo -display ":$alive_display" > /dev/null 2>&1 &&
        [ "$(pane_pid "$alive_id")" = "$pane" ]; then
        pass "after a SIG$how restart the running sandbox still runs (same processes, same display)"
    else fail "after a SIG$how restart the running sandbox still runs (same processes, same display)" \
        "status $(field "$alive_id" status), pane $pane"; fi
done
check "the dead one is still dead" test "$(field "$short_id" status)" = dead

# The tmux server outlived two managers; a new sandbox still gets the
# environment of the manager that makes it.
manager_stop
manager_start "$state" ANTHROPIC_MODEL=rotated-model
status=$(create rotated)
rotated_id=$(json 'b["id"]')
env_line=$(tmux -S "$state/tmux.sock" show-environment -t "=sandbox-$(echo "$rotated_id" | cut -c1-8)" ANTHROPIC_MODEL 2>&1)
check "a sandbox made after a restart gets the new manager's environment" test "$env_line" = ANTHROPIC_MODEL=rotated-model
check "DELETE it: 204" test "$(api DELETE "/api/sandboxes/$rotated_id")" = 204

# Stopping it now ends processes this manager did not start.
tree=$(procs tree "$pane")
check "POST stop on the survivor: 204" test "$(api POST "/api/sandboxes/$alive_id/stop")" = 204
left=""
for p in $tree; do alive "$p" && left="$left $p"; done
check "every process of its tree is gone" test -z "$left"
left=""
alive "$alive_xvfb" && left=$alive_xvfb
check "its Xvfb too" test -z "$left"
check "no zombie children" no_zombies

# state.json is written only when something changed.
manager_stop
manager_start "$state" MANAGER_MONITOR_INTERVAL=200
before=$(stat -c '%i %Y %s' "$state/state.json")
sleep 1.5
check "state.json is not rewritten by checks that change nothing" test "$(stat -c '%i %Y %s' "$state/state.json")" = "$before"

# A corrupt state file is moved aside, loudly.
manager_stop
echo '{"version": 1, "sandboxes": {"x": ' > "$state/state.json"
manager_start "$state"
aside=$(ls "$state" | grep '^state.json.corrupt-' | head -1)
if [ -n "$aside" ] && grep -q '"sandboxes": {"x": ' "$state/$aside" && grep -q "STATE FILE CORRUPT" "$state.out" &&
    grep -q "WARNING: state.json was corrupt" "$state.out"; then
    pass "a corrupt state.json is kept as state.json.corrupt-<time> and reported"
else fail "a corrupt state.json is kept as state.json.corrupt-<time> and reported" "$(ls "$state"; tail -5 "$state.out")"; fi
check "the manager then starts with no sandboxes" test "$(api GET /api/sandboxes)" = 200 -a "$(cat "$scratch/body")" = "[]"
manager_stop
tmux -S "$state/tmux.sock" kill-server 2>/dev/null

# SIGKILL during a burst of creates and stops, then restart.
cat > "$scratch/check_burst.py" <<'PY'
import json, os, sys
state = json.load(open(sys.argv[1]))          # valid JSON, or this fails
records = state["sandboxes"]
answers = sys.argv[2]
promised = set()
for name in os.listdir(answers):
    if name.endswith(".status"):
        continue
    status_file = os.path.join(answers, name + ".status")
    if name.startswith("early-") or (os.path.exists(status_file) and open(status_file).read() == "201"):
        promised.add(json.load(open(os.path.join(answers, name)))["id"])
listed = {s["id"]: s for s in json.load(open(sys.argv[3]))}
lost = promised - set(records)
assert not lost, "lost: %s" % lost
assert set(listed) == set(records), "the API and state.json disagree"
names = [r["name"] for r in records.values()]
requested = {"early-1", "early-2", "early-3"} | {"burst-%d" % i for i in range(1, 16)}
assert len(names) == len(set(names)), "a sandbox is there twice: %s" % names
assert set(names) <= requested, "invented: %s" % (set(names) - requested)
assert not any(r.get("creating") for r in records.values()), "a half-made sandbox was kept"
interrupted = 15 + 3 - len(promised)
print("# %d promised, %d kept, %d interrupted" % (len(promised), len(records), interrupted))
if interrupted == 0:
    sys.exit(3)  # the kill came after the burst: try again, sooner
PY
# One round: 3 made, then 15 creates at once and 3 stops, SIGKILL after
# DELAY, restart. Returns the check's status (3: nothing was interrupted).
burst_round() {
    burst=$1 delay=$2
    manager_start "$burst" || return 1
    rm -rf "$scratch/answers"
    mkdir -p "$scratch/answers"
    clients=""
    for i in 1 2 3; do create "early-$i" > /dev/null; cp "$scratch/body" "$scratch/answers/early-$i"; done
    for i in $(seq 1 15); do
        curl -s -o "$scratch/answers/burst-$i" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
            -H 'Content-Type: application/json' \
            -d "{\"name\":\"burst-$i\",\"backend\":\"bubblewrap\",\"project_dir\":\"$project\",\"network\":\"host\"}" \
            "$URL/api/sandboxes" > "$scratch/answers/burst-$i.status" &
        clients="$clients $!"
    done
    for i in 1 2 3; do
        id=$(python3 -c "import json; print(json.load(open('$scratch/answers/early-$i'))['id'])")
        curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/sandboxes/$id/stop" &
        clients="$clients $!"
    done
    sleep "$delay"
    manager_stop KILL
    for client in $clients; do wait "$client"; done
    manager_start "$burst"
    api GET /api/sandboxes > /dev/null
    python3 "$scratch/check_burst.py" "$burst/state.json" "$scratch/answers" "$scratch/body" > "$scratch/burst.out" 2>&1
}
result=1
for delay in 0.25 0.12 0.05 0.02; do
    burst="$scratch/burst-$delay"
    state=$burst
    burst_round "$burst" "$delay"
    result=$?
    cat "$scratch/burst.out"
    [ $result -ne 3 ] && break
    manager_stop
done
if [ $result -eq 0 ]; then pass "after SIGKILL in a burst: state.json is valid, none lost, none invented"
else fail "after SIGKILL in a burst: state.json is valid, none lost, none invented" "$(cat "$burst/state.json")"; fi
sessions=$(tmux -S "$burst/tmux.sock" list-sessions -F '#{session_name}' 2>/dev/null | sort)
recorded=$(python3 -c "
import json
for r in json.load(open('$burst/state.json'))['sandboxes'].values():
    if r['status'] == 'running': print(r['tmux_session'])" | sort)
if [ "$sessions" = "$recorded" ]; then pass "every running record has its session and no session is unaccounted for"
else fail "every running record has its session and no session is unaccounted for" "sessions: $sessions / records: $recorded"; fi
xvfbs=$(xvfbs_of "$burst" | sort)
recorded=$(python3 -c "
import json
for r in json.load(open('$burst/state.json'))['sandboxes'].values():
    if r['status'] == 'running': print(r['pid_xvfb'])" | sort)
if [ "$xvfbs" = "$recorded" ]; then pass "every running record has its Xvfb and no Xvfb of a half-made one is left"
else fail "every running record has its Xvfb and no Xvfb of a half-made one is left" "Xvfb: $xvfbs / records: $recorded"; fi

# Deleting a running sandbox ends its processes and removes its log.
status=$(api GET /api/sandboxes)
victim=$(json '[s["id"] for s in b if s["status"] == "running"][0]')
pane=$(pane_pid "$victim")
tree=$(procs tree "$pane")
check "DELETE a running sandbox: 204" test "$(api DELETE "/api/sandboxes/$victim")" = 204
left=""
for p in $tree; do alive "$p" && left="$left $p"; done
check "its processes are gone" test -z "$left"
check "its log is gone" test ! -e "$burst/logs/$victim.log"
check "no zombie children after all this" no_zombies
manager_stop
finish
