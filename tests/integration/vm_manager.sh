# A VM made by the manager: POST /api/sandboxes with backend "vm" gives a
# running sandbox (the real sbx run --backend vm and Claude Code in it)
# whose screen the dashboard reads over QMP, at the socket the manager
# named; stopping it leaves no QEMU and no socket behind.
. tests/lib.sh
. tests/support/vm_env.sh

vm_suite_start "a VM made by the manager"
for tool in tmux curl identify convert; do
    if ! command -v $tool > /dev/null; then
        skip "a VM made by the manager" "$tool is not installed"
        finish
        exit 0
    fi
done
. tests/support/manager.sh

project="$scratch/vmproj-$$"
mkdir -p "$project"
claude_home "$SANDBOX_HOME" "$project"
state="$scratch/state"
manager_start "$state" || { fail "the manager starts"; finish; exit 1; }

start=$(date +%s.%N)
status=$(api POST /api/sandboxes -H 'Content-Type: application/json' \
    -d "{\"name\":\"vm\",\"backend\":\"vm\",\"project_dir\":\"$project\",\"network\":\"none\"}")
id=$(json 'b["id"]')
qmp=$(json 'b["qemu_qmp_socket"]')
check "POST /api/sandboxes with backend vm makes one (201)" test "$status" = 201
check "its QMP socket is in a directory of its own in the manager's state" test "$qmp" = "$state/qmp/$id/qmp.sock"

# The guest's own screen: virtio-gpu's 1280x800 (QEMU's placeholder for a
# display no guest set up yet is 640x480), with text on it (the guest
# agent's banner and the main session, mirrored on tty1): more lit pixels
# than a cursor has. The console draws a moment after the mode is set.
lit=0
guest_screen() {
    curl -s -o "$scratch/shot.jpg" -w '%{http_code} %{content_type}' -H "Authorization: Bearer $TOKEN" \
        "$URL/api/sandboxes/$id/screenshot" > "$scratch/shot.status" &&
        grep -qx "200 image/jpeg" "$scratch/shot.status" &&
        [ "$(identify -format '%w %h' "$scratch/shot.jpg" 2> /dev/null)" = "1280 800" ] &&
        lit=$(convert "$scratch/shot.jpg" -colorspace Gray -threshold 50% -format '%[fx:int(mean*w*h)]' info:) &&
        [ "$lit" -ge 200 ]
}
if wait_for "the guest's screen" 180 guest_screen; then
    echo "# the guest's screen, with text, came after $(elapsed "$start") s"
    pass "GET /api/sandboxes/<id>/screenshot is a JPEG of the guest's screen, from QMP, with text ($lit lit pixels)"
else
    cp "$scratch/shot.jpg" /tmp/sbx-vm-manager-last-shot.jpg 2> /dev/null
    fail "GET /api/sandboxes/<id>/screenshot is a JPEG of the guest's screen, from QMP, with text" \
        "$(cat "$scratch/shot.status" 2>/dev/null), $lit lit pixels (the last: /tmp/sbx-vm-manager-last-shot.jpg);
log: $(tail -c 800 "$state/logs/$id.log" 2>/dev/null)"
fi
api GET "/api/sandboxes/$id" > /dev/null
check "the sandbox is running" test "$(json 'b["status"]')" = running
qemu_runs() { [ -n "$(vm_qemu_left)" ]; }
no_qemu_left() { [ -z "$(vm_qemu_left)" ]; }
check "QEMU runs, named after the project" qemu_runs

status=$(api POST "/api/sandboxes/$id/stop")
check "POST /api/sandboxes/<id>/stop (204)" test "$status" = 204
if wait_for "no QEMU" 20 no_qemu_left; then
    pass "stopped: no QEMU is left"
else fail "stopped: no QEMU is left" "$(vm_qemu_left)"; fi
check "and no QMP socket" test ! -e "$qmp"
manager_stop
finish
