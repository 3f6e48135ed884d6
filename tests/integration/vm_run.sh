# sbx run --backend vm, as root: the guest boots and runs the entry; what
# it may and may not touch (read-only parts enforced on the host even
# against root inside the guest), its environment, the terminal relay,
# Claude Code itself, joining, --enter and --stop; and an unprivileged
# user's VM. TCG is slow: each boot's time is printed, none is a gate.
. tests/lib.sh
. tests/support/vm_env.sh

vm_suite_start "the vm backend"

# --dry-run: the plan, and nothing made.
out=$(vm_sbx run --backend vm --dry-run --network none --shell "$vm_proj" 2>&1); code=$?
if [ $code -eq 0 ] && printf '%s' "$out" | python3 -c '
import json, sys
plan = json.load(sys.stdin)
home = sys.argv[1]
assert plan["backend"] == "vm" and plan["network"] == "none", plan["backend"]
assert plan["vm"]["kernel"].startswith("/boot/vmlinuz"), plan["vm"]
mounts = {m["dest"]: m for m in plan["mounts"]}
assert mounts[home + "/.claude/settings.json"]["readonly"]
assert mounts["/usr"]["readonly"]
assert "/etc/resolv.conf" not in mounts
env = dict(e.split("=", 1) for e in plan["env"])
assert env["CLAUDE_SANDBOX_BACKEND"] == "vm" and "GH_TOKEN" not in env
' "$vm_home" && [ ! -e "$vm_home/.local/state/sbx/projects" ]; then
    pass "--dry-run prints the vm plan and starts nothing"
else fail "--dry-run prints the vm plan and starts nothing" "exit $code: $out"; fi

# A host process, a host secret and host variables the guest must not see.
sleep 600 &
host_sleeper=$!
at_exit "kill $host_sleeper 2>/dev/null"
echo "host-secret-$$" > "$vm_home/secret.txt"
other=$(mktemp -d /tmp/sbx-it-vm-other.XXXXXX)
at_exit "rm -rf '$other'"
echo "host-secret-$$" > "$other/secret.txt"
chmod -R a+rX "$other"
mkdir -p "$vm_home/.claude"
echo '{"host": true}' > "$vm_home/.claude/settings.json"

start=$(date +%s.%N)
out=$(vm_env="SECRET_THING=leak-$$ GH_TOKEN=ghp_leak$$" vm_sh none '
echo "uid=$(id -u)"
echo "pid1=$(tr "\0" " " < /proc/1/cmdline)"
echo "processes=$(ls -d /proc/[0-9]* | wc -l)"
ps -eo args | grep -q "[s]leep 600" && echo HOST-PROCESS-SEEN
cat "$HOME/secret.txt" '"$other"'/secret.txt 2>/dev/null
grep -rs host-secret /tmp "$HOME" 2>/dev/null
env | grep -E "^(SECRET_THING|GH_TOKEN)=" && echo HOST-ENV-SEEN
echo "backend=$CLAUDE_SANDBOX_BACKEND"
echo "written in the VM" > written.txt
touch /usr/sbx-probe-'$$' 2>/dev/null && echo WROTE-usr
echo x > "$HOME/.claude/settings.json" 2>/dev/null && echo WROTE-settings
mkdir "$HOME/.claude/hooks/x" 2>/dev/null && echo WROTE-hooks
echo "from the VM" > "$HOME/.claude/vm-note" && echo wrote-claude
exit 42' 2>&1); code=$?
echo "# a VM booted, ran bash and powered off in $(elapsed "$start") s"
check "the VM runs the command and its exit status comes back" test $code -eq 42
if printf '%s' "$out" | grep -qx "uid=1000" && printf '%s' "$out" | grep -qx "pid1=/init "; then
    pass "inside, the user is uid 1000 (root's), under the guest's own init"
else fail "inside, the user is uid 1000 (root's), under the guest's own init" "$out"; fi
if ! printf '%s' "$out" | grep -q "HOST-PROCESS-SEEN" && [ "$(printf '%s' "$out" | sed -n 's/^processes=//p')" -lt 200 ]; then
    pass "host processes are invisible"
else fail "host processes are invisible" "$out"; fi
if ! printf '%s' "$out" | grep -q "host-secret"; then pass "host files outside the project are invisible"
else fail "host files outside the project are invisible" "$out"; fi
if ! printf '%s' "$out" | grep -q "HOST-ENV-SEEN" && printf '%s' "$out" | grep -qx "backend=vm"; then
    pass "the environment is built from nothing: host variables and GH_TOKEN are absent"
else fail "the environment is built from nothing: host variables and GH_TOKEN are absent" "$out"; fi
if [ "$(cat "$vm_proj/written.txt" 2>/dev/null)" = "written in the VM" ]; then
    pass "the project is writable and what the VM wrote is on the host"
else fail "the project is writable and what the VM wrote is on the host" "$out"; fi
if ! printf '%s' "$out" | grep -q WROTE && [ ! -e "/usr/sbx-probe-$$" ] &&
    [ "$(cat "$vm_home/.claude/settings.json")" = '{"host": true}' ] && [ ! -e "$vm_home/.claude/hooks/x" ] &&
    [ -f "$vm_home/.claude/vm-note" ]; then
    pass "/usr and ~/.claude's read-only parts cannot be written; the rest of ~/.claude can"
else fail "/usr and ~/.claude's read-only parts cannot be written; the rest of ~/.claude can" "$out"; fi

# Root inside the guest (a config that makes the guest's user uid 0) takes
# the guest's own read-only flags away: the host still refuses.
printf 'sbx.edit_plan(function(plan) plan.uid_map.inside = 0; plan.gid_map.inside = 0 end)\n' > "$scratch/root.lua"
start=$(date +%s.%N)
out=$(vm_env="SBX_CONFIG=$scratch/root.lua" vm_sh none '
echo "uid=$(id -u)"
mount -o remount,rw /usr && echo remounted-usr && touch /usr/sbx-probe-'$$' && echo WROTE-usr
umount "$HOME/.claude/settings.json" && echo unmounted-settings && echo x > "$HOME/.claude/settings.json" && echo WROTE-settings
umount "$HOME/.claude/hooks" && echo unmounted-hooks && mkdir "$HOME/.claude/hooks/x" && echo WROTE-hooks
true' 2>&1)
echo "# boot and run: $(elapsed "$start") s"
if printf '%s' "$out" | grep -qx "uid=0" && printf '%s' "$out" | grep -q remounted-usr &&
    printf '%s' "$out" | grep -q unmounted-settings && printf '%s' "$out" | grep -q unmounted-hooks &&
    ! printf '%s' "$out" | grep -q WROTE && [ ! -e "/usr/sbx-probe-$$" ] && [ ! -e "$vm_home/.claude/hooks/x" ] &&
    [ "$(cat "$vm_home/.claude/settings.json")" = '{"host": true}' ]; then
    pass "root in the guest, without the guest's read-only mounts, still cannot write them: the host refuses"
else fail "root in the guest, without the guest's read-only mounts, still cannot write them: the host refuses" "$out"; fi

# Claude Code itself, as the VM's entry (not a shell).
start=$(date +%s.%N)
out=$(vm_sbx run --backend vm --network private "$vm_proj" -- --version < /dev/null 2>&1); code=$?
echo "# claude --version as a VM's entry (boot included): $(elapsed "$start") s"
if [ $code -eq 0 ] && printf '%s' "$out" | grep -q "(Claude Code)"; then pass "the real claude --version runs inside"
else fail "the real claude --version runs inside" "exit $code: $out"; fi

# --gh-token; and death by a signal.
out=$(vm_env="GH_TOKEN=ghp_given$$" vm_sh none 'echo "GH_TOKEN=$GH_TOKEN"; kill -KILL $$' --gh-token 2>&1)
code=$?
check "--gh-token passes GH_TOKEN" sh -c "printf '%s' '$out' | grep -qx GH_TOKEN=ghp_given$$"
check "death by a signal comes back as 128 + its number" test $code -eq 137

# The terminal relay through a real pty.
cp tests/support/pty_check.py "$scratch/"
start=$(date +%s.%N)
out=$(env -i HOME="$vm_home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
    python3 "$scratch/pty_check.py" "$SBX" "$vm_proj" --backend vm 2>&1)
echo "# the terminal checks: $(elapsed "$start") s"
relay_checks "terminal: " "the pty driver ran" "$out"

# One VM per project: joined by --enter, not by the engine's backend,
# ended by --stop with its QEMU.
vm_sbx run --backend vm --shell --network none "$vm_proj" -- \
    -c 'echo main-vm-$$ > /tmp/marker; echo main-started; sleep 600' < /dev/null > "$scratch/main.out" 2>&1 &
main=$!
tries=0
until grep -q main-started "$scratch/main.out" || [ $tries -gt 600 ] || ! kill -0 $main 2>/dev/null; do
    sleep 0.1; tries=$((tries + 1))
done
check "a VM runs in the background" grep -q main-started "$scratch/main.out"
out=$(vm_sbx run --backend vm --enter "$vm_proj" -- -c 'cat /tmp/marker' < /dev/null 2>&1); code=$?
if [ $code -eq 0 ] && printf '%s' "$out" | grep -q "^main-vm-"; then
    pass "--enter opens a shell in the running VM (its /tmp)"
else fail "--enter opens a shell in the running VM (its /tmp)" "exit $code: $out"; fi
out=$(vm_sbx run --backend vm --shell "$vm_proj" -- -c 'cat /tmp/marker; exit 5' < /dev/null 2>&1); code=$?
if [ $code -eq 5 ] && printf '%s' "$out" | grep -q "^main-vm-"; then
    pass "a second sbx run joins the running VM, with its own exit status"
else fail "a second sbx run joins the running VM, with its own exit status" "exit $code: $out"; fi
out=$(vm_sbx run --shell "$vm_proj" -- -c true < /dev/null 2>&1); code=$?
if [ $code -eq 1 ] && printf '%s' "$out" | grep -q "a vm sandbox is running for"; then
    pass "the engine's backend does not join a VM: it says which backend runs"
else fail "the engine's backend does not join a VM: it says which backend runs" "exit $code: $out"; fi
out=$(vm_sbx ps 2>&1)
check "sbx ps lists the VM" sh -c "printf '%s' '$out' | grep -q '$vm_proj'"
runtime_dirs=$(ls -d "$vm_home"/.local/state/sbx/projects/vmproj-$$-*/vm/* 2>/dev/null)
out=$(vm_sbx run --stop "$vm_proj" 2>&1); code=$?
wait $main; main_code=$?
if [ $code -eq 0 ] && [ $main_code -eq 143 ] && [ -z "$(vm_qemu_left)" ]; then
    pass "--stop ends the VM: its sbx run ends (143) and no QEMU is left"
else fail "--stop ends the VM: its sbx run ends (143) and no QEMU is left" \
    "stop exit $code, main exit $main_code; left: $(vm_qemu_left); $out"; fi
left=""
for dir in $runtime_dirs; do [ -e "$dir" ] && left="$left $dir"; done
check "its runtime directory is gone" test -z "$left"

# An unprivileged user's VM: QEMU in user namespaces only.
if [ "$(id -u)" -eq 0 ] && command -v useradd > /dev/null; then
    user="sbxv$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
    if useradd -m -d "/home/$user" -s /bin/bash "$user" 2> /dev/null; then
        at_exit "pkill -KILL -u $user 2>/dev/null; userdel -r $user > /dev/null 2>&1"
        shared=$(mktemp -d /tmp/sbx-it-vm-bin.XXXXXX)
        at_exit "rm -rf '$shared'"
        cp "$SBX" "$shared/sbx"
        chmod 755 "$shared" "$shared/sbx"
        kernel=$(vm_sbx run --backend vm --dry-run --shell "$vm_proj" | python3 -c 'import json,sys; print(json.load(sys.stdin)["vm"]["kernel"])')
        if runuser -u "$user" -- test -r "$kernel"; then
            start=$(date +%s.%N)
            out=$(runuser -u "$user" -- env -i HOME="/home/$user" PATH=/usr/local/bin:/usr/bin:/bin sh -c \
                "mkdir -p ~/p && '$shared/sbx' run --backend vm --shell --network private ~/p -- -c 'id -u; echo mine > f' < /dev/null" 2>&1)
            code=$?
            echo "# an unprivileged user's VM: $(elapsed "$start") s"
            if [ $code -eq 0 ] && printf '%s' "$out" | grep -qx "$(id -u "$user")" &&
                [ "$(stat -c %U "/home/$user/p/f" 2>/dev/null)" = "$user" ]; then
                pass "an unprivileged user's VM runs as that user, and its files are the user's"
            else fail "an unprivileged user's VM runs as that user, and its files are the user's" "exit $code: $out"; fi
        else skip "an unprivileged user's VM" "$kernel is not readable by an unprivileged user"; fi
    else skip "an unprivileged user's VM" "useradd failed"; fi
else skip "an unprivileged user's VM" "making a test user needs root and useradd"; fi
finish
