# sbx remote against a real manager through a real sshd on loopback (the
# suite's own, with its own host and client keys): every command, the
# claude-remote link, and what a user or a hostile server can get wrong.
. tests/lib.sh

if [ "$(id -u)" -ne 0 ] || [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen > /dev/null ||
    ! command -v tmux > /dev/null || ! command -v identify > /dev/null; then
    skip "sbx remote over SSH" "needs root (sshd), openssh-server, tmux and imagemagick"
    finish
    exit 0
fi
. tests/support/manager.sh

# An sshd of the suite's own, on a port the kernel picks.
ssh_dir="$scratch/ssh"
mkdir -m 700 "$ssh_dir"
ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/client_key"
cp "$ssh_dir/client_key.pub" "$ssh_dir/authorized_keys"
ssh_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$ssh_dir/sshd_config" <<CONFIG
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $ssh_dir/host_key
AuthorizedKeysFile $ssh_dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $ssh_dir/sshd.pid
CONFIG
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$ssh_dir/sshd_config" 2> "$ssh_dir/sshd.log" &
sshd=$!
at_exit "kill $sshd 2>/dev/null"
export SBX_SSH="ssh -F none -p $ssh_port -i $ssh_dir/client_key -o BatchMode=yes -o LogLevel=ERROR
 -o StrictHostKeyChecking=no -o UserKnownHostsFile=$ssh_dir/known_hosts"
ssh_up() { $SBX_SSH root@127.0.0.1 true; }
wait_for "sshd" 10 ssh_up || { fail "sshd starts" "$(cat "$ssh_dir/sshd.log")"; finish; exit 1; }

project="$scratch/proj"
mkdir -p "$project"
claude_home "$SANDBOX_HOME" "$project"
state="$scratch/state"
manager_start "$state" || { fail "the manager starts"; finish; exit 1; }

remote() { "$SBX" remote --host root@127.0.0.1 --sbx "$SBX" --state "$state" "$@"; }

out=$(remote ls 2>&1); code=$?
if [ $code -eq 0 ] && [ "$out" = "no sandboxes" ]; then pass "ls: none yet"
else fail "ls: none yet" "exit $code: $out"; fi

id=$(remote create --network host demo "$project" 2>&1); code=$?
if [ $code -eq 0 ] && printf '%s' "$id" | grep -qE '^[0-9a-f-]{36}$'; then pass "create prints the new sandbox's id"
else fail "create prints the new sandbox's id" "exit $code: $id"; fi
short=$(printf '%s' "$id" | cut -c1-8)

out=$(remote ls 2>&1)
if printf '%s' "$out" | grep -qE "^$short +demo +bubblewrap +running +host .* $project\$"; then
    pass "ls lists it: short id, name, backend, status, network, project"
else fail "ls lists it: short id, name, backend, status, network, project" "$out"; fi

out=$(remote show "$short" 2>&1); code=$?
if [ $code -eq 0 ] && printf '%s' "$out" | grep -qx "id  *$id" && printf '%s' "$out" | grep -qx "status  *running"; then
    pass "show takes the start of an id and prints every field"
else fail "show takes the start of an id and prints every field" "exit $code: $out"; fi

# Claude Code draws its screen in the sandbox's terminal: the log fills.
logs_have_text() { [ -n "$(remote logs "$short" 2> /dev/null)" ]; }
if wait_for "a log" 60 logs_have_text; then pass "logs prints the sandbox's terminal log"
else fail "logs prints the sandbox's terminal log" "$(remote logs "$short" 2>&1 | tail -c 300)"; fi

remote screenshot "$short" "$scratch/shot.jpg" > "$scratch/shot.out" 2>&1; code=$?
size=$(identify -format '%w %h' "$scratch/shot.jpg" 2> /dev/null)
if [ $code -eq 0 ] && [ -n "$size" ]; then pass "screenshot saves a JPEG of its display ($size)"
else fail "screenshot saves a JPEG of its display" "exit $code: $(cat "$scratch/shot.out")"; fi

out=$(remote metrics 2>&1); code=$?
if [ $code -eq 0 ] && printf '%s' "$out" | python3 -c 'import json, sys; json.load(sys.stdin)'; then
    pass "metrics prints the host's figures as JSON"
else fail "metrics prints the host's figures as JSON" "exit $code: $out"; fi

ln -s "$SBX" "$scratch/claude-remote"
out=$("$scratch/claude-remote" --host root@127.0.0.1 --sbx "$SBX" --state "$state" ls 2>&1); code=$?
if [ $code -eq 0 ] && printf '%s' "$out" | grep -q "^$short "; then pass "the claude-remote link is sbx remote"
else fail "the claude-remote link is sbx remote" "exit $code: $out"; fi

out=$("$SBX" api --state "$state" --status GET "/api/sandboxes/$id" 2>&1); code=$?
if [ $code -eq 0 ] && [ "$(printf '%s' "$out" | head -1)" = 200 ]; then pass "sbx api on the server: the status, then the body"
else fail "sbx api on the server: the status, then the body" "exit $code: $out"; fi

# attach: this terminal (script gives one) on the sandbox's tmux session,
# through ssh -t; a detach ends it, and the sandbox runs on.
session="sandbox-$short"
mkfifo "$scratch/attach-in"
sleep 120 > "$scratch/attach-in" &
attach_holder=$!
at_exit "kill $attach_holder 2>/dev/null"
script -qfec "'$SBX' remote --host root@127.0.0.1 --sbx '$SBX' --state '$state' attach $short" /dev/null \
    < "$scratch/attach-in" > "$scratch/attach.log" 2>&1 &
attach_run=$!
has_client() { [ -n "$(tmux -S "$state/tmux.sock" list-clients -t "=$session" 2> /dev/null)" ]; }
if wait_for "a client" 30 has_client; then pass "attach puts this terminal on the sandbox's tmux session, over ssh -t"
else fail "attach puts this terminal on the sandbox's tmux session, over ssh -t" "$(tail -c 500 "$scratch/attach.log")"; fi
tmux -S "$state/tmux.sock" detach-client -s "=$session" 2> /dev/null
wait "$attach_run"; code=$?
kill "$attach_holder" 2> /dev/null
runs_on() { remote show "$short" | grep -qx 'status  *running'; }
if [ $code -eq 0 ] && runs_on; then pass "a detach ends attach with 0, and the sandbox runs on"
else fail "a detach ends attach with 0, and the sandbox runs on" "exit $code: $(tail -c 300 "$scratch/attach.log")"; fi
out=$(remote attach "$short" < /dev/null 2>&1); code=$?
if [ $code -eq 2 ] && printf '%s' "$out" | grep -q "needs a terminal"; then pass "attach without a terminal: exit 2, said"
else fail "attach without a terminal: exit 2, said" "exit $code: $out"; fi

check "stop ends it" remote stop "$short"
script -qfec "'$SBX' remote --host root@127.0.0.1 --sbx '$SBX' --state '$state' attach $short" /dev/null \
    < /dev/null > "$scratch/attach-stopped.log" 2>&1; code=$?
if [ $code -eq 1 ] && grep -q "is stopped, not running" "$scratch/attach-stopped.log"; then
    pass "attach to a stopped sandbox: exit 1, said"
else fail "attach to a stopped sandbox: exit 1, said" "exit $code: $(cat "$scratch/attach-stopped.log")"; fi
shows_stopped() { remote show "$short" | grep -qx 'status  *stopped'; }
check "and show says stopped" shows_stopped
check "rm forgets it" remote rm "$short"
out=$(remote ls 2>&1)
check "and ls no longer lists it" test "$out" = "no sandboxes"

# Mistakes, each with a clear message and no crash.
expect() { # DESC CODE EXPECTED-TEXT COMMAND...
    desc=$1 want=$2 text=$3; shift 3
    out=$("$@" 2>&1); code=$?
    if [ $code -eq "$want" ] && printf '%s' "$out" | grep -qF -- "$text"; then pass "$desc"
    else fail "$desc" "exit $code (wanted $want): $out"; fi
}
expect "an id nobody has: exit 1, said" 1 "has an id starting with abc" remote show abc
expect "what is not an id is refused before any call" 1 "is not a sandbox id" remote stop "../../x"
expect "a relative project is refused by the manager, naming the field" 1 "project_dir" \
    remote create demo relative/dir
expect "no host: exit 2" 2 "no host" env -u SBX_REMOTE_HOST "$SBX" remote ls
expect "an unknown remote command: exit 2, with the list" 2 "screenshot ID FILE" remote frob
expect "too many arguments: exit 2" 2 "stop takes 1 argument" remote stop a b
expect "a host that looks like an option is refused" 2 "cannot start with" "$SBX" remote --host -oProxyCommand=x ls
expect "no manager with that state: exit 1, said" 1 "no manager is running with state in" \
    "$SBX" remote --host root@127.0.0.1 --sbx "$SBX" --state "$scratch/none" ls
expect "sbx missing on the server: exit 1, said" 1 "is not found on root@127.0.0.1" \
    "$SBX" remote --host root@127.0.0.1 --sbx /nonexistent/sbx --state "$state" ls
expect "ssh cannot connect: exit 1, said" 1 "ssh to root@127.0.0.1 failed" \
    env SBX_SSH="ssh -F none -p 1 -o BatchMode=yes" "$SBX" remote --host root@127.0.0.1 ls

# Shell metacharacters in what goes to the server run nothing there.
marker="$scratch/injected"
remote create "x\$(touch $marker)\`touch $marker\`" "$project" > /dev/null 2>&1
"$SBX" remote --host root@127.0.0.1 --sbx "$SBX" --state "$scratch/s'; touch $marker; '" ls > /dev/null 2>&1
check "names and paths with shell metacharacters run nothing on the server" test ! -e "$marker"
for sandbox in $("$SBX" api --state "$state" GET /api/sandboxes | python3 -c \
    'import json, sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))'); do
    remote rm "$sandbox" > /dev/null 2>&1
done

# A server that answers garbage: an error, not a crash.
cat > "$scratch/fake-ssh" <<'FAKE'
#!/bin/sh
printf '200\n{"not": "a list"'
FAKE
chmod +x "$scratch/fake-ssh"
expect "an answer that is not JSON: exit 1, said" 1 "not JSON" \
    env SBX_SSH="$scratch/fake-ssh" "$SBX" remote --host h ls
printf '#!/bin/sh\nprintf "garbage"\n' > "$scratch/fake-ssh"
expect "an answer without a status line: exit 1" 1 "garbage" env SBX_SSH="$scratch/fake-ssh" "$SBX" remote --host h ls
printf '#!/bin/sh\nprintf "200\\nnot a jpeg"\n' > "$scratch/fake-ssh"
expect "a screenshot that is not a JPEG is not written" 1 "not a JPEG" \
    env SBX_SSH="$scratch/fake-ssh" "$SBX" remote --host h screenshot 01234567-89ab-cdef-0123-456789abcdef \
    "$scratch/fake.jpg"
check "and nothing is written" test ! -e "$scratch/fake.jpg"
manager_stop
finish
