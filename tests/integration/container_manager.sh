# sbx manager with the container backend: POST /api/sandboxes with backend
# "container" gives a running sandbox (sbx run --backend container in its
# tmux pane, systemd-nspawn under it, the real Claude Code inside at its
# prompt), which DELETE ends, leaving no process and no container directory.
. tests/lib.sh

if ! command -v systemd-nspawn > /dev/null; then
    skip "the manager makes container sandboxes" "systemd-nspawn is not installed (apt-get install systemd-container)"
    finish; exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    skip "the manager makes container sandboxes" "the suite is not root, which systemd-nspawn needs"
    finish; exit 0
fi
. tests/support/manager.sh

state="$scratch/state"
manager_start "$state" || { fail "the manager starts"; finish; exit 1; }
project="$scratch/project"
mkdir -p "$project"
in_home() { env HOME="$SANDBOX_HOME" "$SBX" "$@"; }
# The init of the project's running sandbox, from sbx ps.
running_init() {
    in_home ps --json | python3 -c '
import json, sys
print([e["pid"] for e in json.load(sys.stdin) if e["project"] == sys.argv[1]][0])' "$project"
}
parent_comm() { cat "/proc/$(cut -d')' -f2 "/proc/$1/stat" | cut -d' ' -f3)/comm"; }

status=$(api POST /api/sandboxes -H 'Content-Type: application/json' \
    -d "{\"name\":\"box\",\"backend\":\"container\",\"project_dir\":\"$project\",\"network\":\"host\"}")
id=$(json 'b["id"]')
check "POST /api/sandboxes with backend container: 201" test "$status" = 201
if wait_for "registered" 30 running_init; then
    init=$(running_init)
    nspawn=$(cut -d')' -f2 "/proc/$init/stat" | cut -d' ' -f3)
    inside=""
    for _ in $(seq 100); do
        inside=$(in_home run --enter "$project" -- -c 'ps -e -o comm=' < /dev/null 2>&1)
        printf '%s\n' "$inside" | grep -qx claude && break
        sleep 0.2
    done
    api GET "/api/sandboxes/$id" > /dev/null
    if [ "$(parent_comm "$init")" = systemd-nspawn ] && printf '%s\n' "$inside" | grep -qx claude \
        && [ "$(json 'b["status"]')" = running ] && [ "$(json 'b["backend"]')" = container ]; then
        pass "it runs: a systemd-nspawn container under the manager, Claude Code inside"
    else fail "it runs: a systemd-nspawn container under the manager, Claude Code inside" \
        "init $init (parent $(parent_comm "$init")), inside: $inside; $(tail -c 600 "$state/logs/$id.log" 2>/dev/null)"; fi
    launch_dirs="$SANDBOX_HOME/.local/state/sbx/projects/*/containers"
    check "DELETE it: 204" test "$(api DELETE "/api/sandboxes/$id")" = 204
    wait_for "gone" 20 sh -c "! kill -0 $nspawn 2> /dev/null"
    # shellcheck disable=SC2086 # the glob is the point
    if [ ! -e "/proc/$init" ] && [ ! -e "/proc/$nspawn" ] && [ -z "$(ls -A $launch_dirs 2> /dev/null)" ]; then
        pass "DELETE ends the container: no init, no nspawn, no container directory left"
    else fail "DELETE ends the container: no init, no nspawn, no container directory left" \
        "init $init, nspawn $nspawn: $(ps -o pid=,args= -p "$init,$nspawn" | cut -c1-100); $(ls -A $launch_dirs 2>&1)"; fi
else
    fail "the container sandbox registers" "$(tail -c 800 "$state/logs/$id.log" 2>/dev/null)"
fi
manager_stop
finish
