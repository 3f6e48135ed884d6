# sbx manager's REST API against a real manager: every route's success and
# errors, authentication, Origin, the login link, static files, the Unix
# socket, and names and paths full of shell metacharacters.
. tests/lib.sh
. tests/support/manager.sh

out=$("$SBX" manager --help)
missing=""
for word in MANAGER_LISTEN MANAGER_STATE_DIR MANAGER_SOCKET MANAGER_AUTH MANAGER_ORIGINS MANAGER_HOSTS \
    MANAGER_MAX_BODY /api/sandboxes /stop /logs /api/login-links Bearer SameSite=Strict KillMode \
    SBX_QMP_SOCKET state.json.corrupt; do
    echo "$out" | grep -q -- "$word" || missing="$missing $word"
done
if [ -z "$missing" ]; then pass "sbx manager --help documents the configuration, API and auth"
else fail "sbx manager --help documents the configuration, API and auth" "missing:$missing"; fi

unit="$scratch/sbx-manager.service"
sed "s|^ExecStart=.*|ExecStart=$SBX manager|" docs/systemd/sbx-manager.service > "$unit"
if command -v systemd-analyze > /dev/null 2>&1; then
    check "the systemd unit example passes systemd-analyze verify" systemd-analyze verify "$unit"
else skip "the systemd unit example passes systemd-analyze verify" "systemd-analyze is not installed"; fi
check "the unit keeps sandboxes across restarts (KillMode=process) and is hardened" \
    sh -c "grep -qx 'KillMode=process' '$unit' && grep -qx 'NoNewPrivileges=yes' '$unit' && grep -qx 'PrivateTmp=yes' '$unit'"

for bad in "MANAGER_AUTH=off" "MANAGER_LISTEN=nowhere" "MANAGER_STATE_DIR=relative"; do
    out=$(env "$bad" "$SBX" manager 2>&1); code=$?
    name=${bad%%=*}
    if [ $code -eq 2 ] && echo "$out" | grep -q "$name"; then pass "$bad is refused (exit 2, naming it)"
    else fail "$bad is refused (exit 2, naming it)" "code $code: $out"; fi
done

state="$scratch/state"
manager_start "$state" || { fail "the manager starts"; finish; exit 1; }
pass "the manager starts on a port it picked"
check "the token file is mode 0600" test "$(stat -c %a "$state/token")" = 600
check "a one-time login link is printed" grep -q "$URL/login?code=" "$state.out"

check "no token: 401" test "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/sandboxes")" = 401
check "a wrong token: 401" test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer 00' "$URL/api/sandboxes")" = 401
status=$(api GET /api/sandboxes)
if [ "$status" = 200 ] && [ "$(cat "$scratch/body")" = "[]" ]; then pass "GET /api/sandboxes with the token: 200 []"
else fail "GET /api/sandboxes with the token: 200 []" "$status $(cat "$scratch/body")"; fi

project="$scratch/project"
mkdir -p "$project"
status=$(api POST /api/sandboxes -H 'Content-Type: application/json' \
    -d "{\"name\":\"first\",\"backend\":\"bubblewrap\",\"project_dir\":\"$project\",\"network\":\"host\"}")
if [ "$status" = 201 ] && json '
b["name"] == "first" and b["backend"] == "bubblewrap" and b["status"] == "running"
and b["network"] == "host" and b["qemu_qmp_socket"] is None
and isinstance(b["display_num"], int) and isinstance(b["pid_xvfb"], int)
and b["tmux_session"] == "sandbox-" + b["id"][:8] and len(b["id"]) == 36
and b["created_at"].endswith("Z") and b["project_dir"] == "'"$project"'"
and sorted(b) == sorted(["id","name","backend","project_dir","status","display_num","tmux_session",
 "pid_xvfb","qemu_qmp_socket","network","created_at"])' | grep -q True; then
    pass "POST /api/sandboxes: 201 with the sandbox, every field of the original"
else fail "POST /api/sandboxes: 201 with the sandbox, every field of the original" "$status $(cat "$scratch/body")"; fi
first=$(json 'b["id"]')
display=$(json 'b["display_num"]')
check "the Location header names it" grep -qi "^location: /api/sandboxes/$first" "$scratch/headers"
cp "$state/fb/$first/Xauthority" "$scratch/first.xauth"
x_client() { env XAUTHORITY="$1" xdpyinfo -display ":$display"; }
check "its Xvfb accepts X clients that show its cookie" x_client "$scratch/first.xauth"
check "and refuses those that do not" sh -c "! env XAUTHORITY=/nonexistent xdpyinfo -display ':$display'"
check "its cookie is the manager's alone" test "$(stat -c %a "$state/fb/$first/Xauthority")" = 600
check "its screen is kept in the -fbdir file" test -s "$state/fb/$first/Xvfb_screen0"
check "its tmux session runs sbx run, on the manager's own tmux server" \
    sh -c "tmux -S '$state/tmux.sock' list-panes -t '=sandbox-$(echo "$first" | cut -c1-8):' -F '#{pane_current_command} #{pane_start_command}' | grep -q 'run --new --backend bubblewrap --network host'"

sleep 0.01
status=$(api POST /api/sandboxes -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-urlencode name=second --data-urlencode backend=bubblewrap --data-urlencode "project_dir=$project" \
    --data-urlencode network=false)
if [ "$status" = 201 ] && [ "$(json 'b["network"]')" = none ]; then pass "a form creates too; network false is none"
else fail "a form creates too; network false is none" "$status $(cat "$scratch/body")"; fi
second=$(json 'b["id"]')

status=$(api POST /api/sandboxes -H 'Content-Type: application/json' \
    -d "{\"name\":\"a vm\",\"backend\":\"vm\",\"project_dir\":\"$project\"}")
if [ "$status" = 201 ] && json 'b["qemu_qmp_socket"] == "'"$state/qmp/"'" + b["id"] + "/qmp.sock"
    and b["display_num"] is None and b["pid_xvfb"] is None' | grep -q True; then
    pass "a VM sandbox gets its QMP socket path and no Xvfb"
else fail "a VM sandbox gets its QMP socket path and no Xvfb" "$status $(cat "$scratch/body")"; fi
vm=$(json 'b["id"]')
check "DELETE the VM sandbox: 204" test "$(api DELETE "/api/sandboxes/$vm")" = 204
check "and its QMP directory is gone" test ! -e "$state/qmp/$vm"

status=$(api GET /api/sandboxes)
if [ "$status" = 200 ] && [ "$(json '",".join(s["id"] for s in b)')" = "$second,$first" ]; then
    pass "the list is newest first"
else fail "the list is newest first" "$(cat "$scratch/body")"; fi
status=$(api GET "/api/sandboxes/$first")
if [ "$status" = 200 ] && [ "$(json 'b["id"]')" = "$first" ]; then pass "GET /api/sandboxes/<id>: 200"
else fail "GET /api/sandboxes/<id>: 200" "$status"; fi

wait_for "the log" 10 test -s "$state/logs/$first.log"
status=$(api GET "/api/sandboxes/$first/logs")
if [ "$status" = 200 ] && grep -qi '^content-type: text/plain' "$scratch/headers" && [ -s "$scratch/body" ] &&
    cmp -s "$scratch/body" "$state/logs/$first.log"; then pass "GET /api/sandboxes/<id>/logs: the pipe-pane log as text/plain"
else fail "GET /api/sandboxes/<id>/logs: the pipe-pane log as text/plain" "$status $(head -c 300 "$scratch/body")"; fi

# Errors, each with the uniform body.
expect() { # DESC STATUS FIELD METHOD PATH [curl args]
    desc=$1 want=$2 field=$3; shift 3
    got=$(api "$@")
    if [ "$got" = "$want" ] && json 'b["error"]' > /dev/null 2>&1 &&
        { [ -z "$field" ] || [ "$(json 'b.get("field")')" = "$field" ]; }; then pass "$desc"
    else fail "$desc" "got $got: $(head -c 300 "$scratch/body")"; fi
}
unknown=00000000-0000-4000-8000-000000000000
expect "GET an unknown id: 404" 404 "" GET "/api/sandboxes/$unknown"
expect "stop an unknown id: 404" 404 "" POST "/api/sandboxes/$unknown/stop"
expect "DELETE an unknown id: 404" 404 "" DELETE "/api/sandboxes/$unknown"
expect "logs of an unknown id: 404" 404 "" GET "/api/sandboxes/$unknown/logs"
expect "an unknown route: 404" 404 "" GET "/api/nothing"
expect "malformed JSON: 400" 400 "" POST /api/sandboxes -H 'Content-Type: application/json' -d '{"name":'
expect "a JSON list: 400" 400 "" POST /api/sandboxes -H 'Content-Type: application/json' -d '[1]'
expect "a wrong content type: 415" 415 "" POST /api/sandboxes -H 'Content-Type: text/plain' -d 'name=x'
expect "a wrong method: 405" 405 "" PUT /api/sandboxes -H 'Content-Type: application/json' -d '{}'
check "405 says what is allowed" grep -qi '^allow: GET, HEAD, POST' "$scratch/headers"
expect "PATCH on a sandbox: 405" 405 "" PATCH "/api/sandboxes/$first"
head -c 1100000 /dev/zero | tr '\0' a > "$scratch/big"
expect "a body over the limit: 413" 413 "" POST /api/sandboxes -H 'Content-Type: application/json' \
    --data-binary @"$scratch/big"
touch "$scratch/file"
for case in "name|{\"backend\":\"bubblewrap\",\"project_dir\":\"$project\"}" \
    "backend|{\"name\":\"x\",\"backend\":\"docker\",\"project_dir\":\"$project\"}" \
    "project_dir|{\"name\":\"x\",\"backend\":\"bubblewrap\",\"project_dir\":\"relative/dir\"}" \
    "project_dir|{\"name\":\"x\",\"backend\":\"bubblewrap\",\"project_dir\":\"$scratch/missing\"}" \
    "project_dir|{\"name\":\"x\",\"backend\":\"bubblewrap\",\"project_dir\":\"$scratch/file\"}" \
    "project_dir|{\"name\":\"x\",\"backend\":\"bubblewrap\",\"project_dir\":\"/\"}" \
    "project_dir|{\"name\":\"x\",\"backend\":\"bubblewrap\"}" \
    "network|{\"name\":\"x\",\"backend\":\"bubblewrap\",\"project_dir\":\"$project\",\"network\":\"wide\"}"; do
    field=${case%%|*} body=${case#*|}
    expect "422 naming $field for $body" 422 "$field" POST /api/sandboxes -H 'Content-Type: application/json' -d "$body"
done
status=$(api GET /api/sandboxes)
check "refused requests made no sandbox" test "$(json 'len(b)')" = 2

# Shell metacharacters: nothing runs. The project directory really has
# such a name, so the sandbox really starts on it.
markers="$scratch/markers"
mkdir -p "$markers"
weird="$scratch/proj \$(touch $markers/m1) \`touch $markers/m2\` #(touch $markers/m3) ; touch $markers/m4 ;"
mkdir -p "$weird"
name="n \$(touch $markers/m5) \`touch $markers/m6\` #(touch $markers/m7); touch $markers/m8 | x & y > z ;"
body=$(python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "backend": "bubblewrap",
    "project_dir": sys.argv[2], "network": "host"}))' "$name" "$weird")
status=$(api POST /api/sandboxes -H 'Content-Type: application/json' -d "$body")
if [ "$status" = 201 ] && [ "$(json 'b["name"]')" = "$name" ] && [ "$(json 'b["project_dir"]')" = "$weird" ]; then
    pass "a name and project_dir full of shell metacharacters are kept as given"
else fail "a name and project_dir full of shell metacharacters are kept as given" "$status $(cat "$scratch/body")"; fi
weird_id=$(json 'b["id"]')
session="sandbox-$(echo "$weird_id" | cut -c1-8)"
args=$(tmux -S "$state/tmux.sock" list-panes -t "=$session:" -F '#{pane_start_command}' 2>/dev/null)
sleep 2
if [ -z "$(ls "$markers")" ]; then pass "no marker file: nothing in them was run (tmux args, pipe-pane, sbx run)"
else fail "no marker file: nothing in them was run (tmux args, pipe-pane, sbx run)" "$(ls "$markers")"; fi
case "$args" in *"#(touch"*"; touch"*) pass "the session got the directory as one literal argument" ;;
    *) fail "the session got the directory as one literal argument" "$args" ;; esac

# Stop and delete.
status=$(api POST "/api/sandboxes/$first/stop")
check "POST /api/sandboxes/<id>/stop: 204" test "$status" = 204
status=$(api GET "/api/sandboxes/$first")
check "it is stopped" test "$(json 'b["status"]')" = stopped
check "its tmux session is gone" sh -c "! tmux -S '$state/tmux.sock' has-session -t '=sandbox-$(echo "$first" | cut -c1-8)'"
check "its Xvfb is gone" sh -c "! XAUTHORITY='$scratch/first.xauth' xdpyinfo -display ':$display' > /dev/null 2>&1"
check "stopping it again: 204" test "$(api POST "/api/sandboxes/$first/stop")" = 204
status=$(api DELETE "/api/sandboxes/$first")
check "DELETE /api/sandboxes/<id>: 204" test "$status" = 204
check "then it is 404" test "$(api GET "/api/sandboxes/$first")" = 404
check "and its log is removed" test ! -e "$state/logs/$first.log"

# Origin and browser sessions.
status=$(api POST "/api/sandboxes/$second/stop" -H 'Origin: http://evil.example')
check "a cross-origin POST: 403" test "$status" = 403
status=$(api POST "/api/sandboxes/$second/stop" -H "Origin: $URL")
check "a same-origin POST: allowed" test "$status" = 204
login=$(sed -n 's/.*log in to the dashboard (once) at \(http[^ ]*\).*/\1/p' "$state.out" | tail -1)
curl -s -D "$scratch/login-headers" -o /dev/null "$login"
cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: \(sbx_session=[0-9a-f]*\);.*/\1/p' "$scratch/login-headers" | tr -d '\r')
if grep -qi '^set-cookie: sbx_session=.*HttpOnly.*SameSite=Strict' "$scratch/login-headers" && [ -n "$cookie" ]; then
    pass "the login link sets an HttpOnly, SameSite=Strict session cookie"
else fail "the login link sets an HttpOnly, SameSite=Strict session cookie" "$(cat "$scratch/login-headers")"; fi
check "the link works once only" test "$(curl -s -o /dev/null -w '%{http_code}' "$login")" = 403
check "the cookie opens the API" test "$(curl -s -o /dev/null -w '%{http_code}' -b "$cookie" "$URL/api/sandboxes")" = 200
check "a cookie POST without Origin: 403" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -b "$cookie" "$URL/api/sandboxes/$second/stop")" = 403
check "a cookie POST from its own origin: 204" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -b "$cookie" -H "Origin: $URL" "$URL/api/sandboxes/$second/stop")" = 204
status=$(api POST /api/login-links)
new_link=$(json 'b["url"]')
check "POST /api/login-links: 201 and a working link" test "$status" = 201 -a \
    "$(curl -s -o /dev/null -w '%{http_code}' "$new_link")" = 200

# Static files.
assets="$scratch/assets"
mkdir -p "$assets/sub"
echo 'console.log(1)' > "$assets/sub/app.js"
echo secret > "$scratch/secret.txt"
ln -s "$scratch/secret.txt" "$assets/link.txt"
manager_stop
manager_start "$state" MANAGER_ASSETS_DIR="$assets" MANAGER_SOCKET="$scratch/manager.sock"
status=$(curl -s -o "$scratch/body" -D "$scratch/headers" -w '%{http_code}' "$URL/static/sub/app.js")
if [ "$status" = 200 ] && grep -qi '^content-type: text/javascript' "$scratch/headers" && grep -q console "$scratch/body"; then
    pass "/static/ serves MANAGER_ASSETS_DIR with its content type, without a token"
else fail "/static/ serves MANAGER_ASSETS_DIR with its content type, without a token" "$status"; fi
for path in "/static/link.txt" "/static/..%2f..%2fsecret.txt" "/static/../secret.txt" "/static/nothing.js" "/static/.hidden"; do
    check "$path: 404" test "$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$URL$path")" = 404
done

# The Unix socket.
check "the Unix socket is mode 0600" test "$(stat -c %a "$scratch/manager.sock")" = 600
status=$(curl -s -o "$scratch/body" -w '%{http_code}' --unix-socket "$scratch/manager.sock" http://localhost/api/sandboxes)
check "its owner needs no token there" test "$status" = 200
check "sandboxes persist across a manager restart" test "$(json 'len(b)')" = 2

# A second manager on the same state directory is refused.
out=$(MANAGER_LISTEN=127.0.0.1:0 MANAGER_STATE_DIR="$state" "$SBX" manager 2>&1); code=$?
if [ $code -ne 0 ] && echo "$out" | grep -q "another manager"; then pass "a second manager on the same state is refused"
else fail "a second manager on the same state is refused" "code $code: $out"; fi

manager_stop TERM
code=$?
if grep -q "SIGTERM: stopping (sandboxes keep running)" "$state.out" && [ ! -e "$state/manager.pid" ]; then
    pass "SIGTERM stops the manager cleanly"
else fail "SIGTERM stops the manager cleanly" "$(tail -3 "$state.out")"; fi

# A create that fails on the host (no Xvfb to run) is a clear 500 and
# leaves nothing behind.
nox="$scratch/no-xvfb-bin"
mkdir -p "$nox"
ln -s "$(command -v tmux)" "$nox/tmux"
manager_start "$scratch/no-xvfb" PATH="$nox"
status=$(api POST /api/sandboxes -H 'Content-Type: application/json' \
    -d "{\"name\":\"x\",\"backend\":\"bubblewrap\",\"project_dir\":\"$project\"}")
if [ "$status" = 500 ] && json 'b["error"]' | grep -q "Xvfb"; then pass "no Xvfb on the host: 500 saying so"
else fail "no Xvfb on the host: 500 saying so" "$status $(cat "$scratch/body")"; fi
check "and no sandbox is left, in the API or in state.json" sh -c \
    "[ \"\$(curl -s -H 'Authorization: Bearer $TOKEN' $URL/api/sandboxes)\" = '[]' ] &&
     python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))[\"sandboxes\"] == {}' '$scratch/no-xvfb/state.json'"
manager_stop

# MANAGER_AUTH=none: no token, but Host and Origin still checked.
open_state="$scratch/open"
manager_start "$open_state" MANAGER_AUTH=none
check "MANAGER_AUTH=none makes no token" test ! -e "$open_state/token"
check "it answers without a token" test "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/sandboxes")" = 200
check "it refuses a rebound Host name: 403" test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: attacker.example' "$URL/api/sandboxes")" = 403
check "it refuses a cross-origin POST: 403" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Origin: http://attacker.example' -H 'Content-Type: application/json' -d '{}' "$URL/api/sandboxes")" = 403
manager_stop
finish
