# A VM's network: with "host" it reaches the host's loopback through QEMU's
# gateway (the control: the test can see a reachable server); with
# "private" it has a network (QEMU's gateway answers) but no host loopback
# service; with "none" nothing but its own loopback.
. tests/lib.sh
. tests/support/vm_env.sh

vm_suite_start "the vm backend's network"

# A server on the host's loopback, answering with a token.
token="vm-net-token-$$"
cat > "$scratch/server.py" <<'PY'
import socket, sys
token = sys.argv[1].encode()
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); c.sendall(token + b"\n"); c.close()
PY
python3 "$scratch/server.py" "$token" > "$scratch/port" &
server=$!
at_exit "kill $server 2>/dev/null"
for _ in $(seq 50); do [ -s "$scratch/port" ] && break; sleep 0.1; done
port=$(cat "$scratch/port")

# Run inside: one line per target (reached, refused, unreachable or
# silent), then the interfaces.
cat > "$vm_proj/probe.sh" <<SH
for target in "\$@"; do
    out=\$(timeout 5 bash -c "exec 3<>/dev/tcp/\${target%:*}/\${target##*:} && head -1 <&3" 2>&1)
    case "\$out" in
        *$token*) echo "reached \$target" ;;
        *refused*) echo "refused \$target" ;;
        *unreachable*) echo "unreachable \$target" ;;
        *) echo "silent \$target" ;;
    esac
done
echo "interfaces: \$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' ')"
SH
targets="10.0.2.2:$port 127.0.0.1:$port"

start=$(date +%s.%N)
out=$(vm_sh host "bash probe.sh 10.0.2.2:$port" 2>&1)
echo "# host: $(elapsed "$start") s"
if printf '%s' "$out" | grep -qx "reached 10.0.2.2:$port"; then
    pass "host: the host's loopback server is reachable (the control)"
else fail "host: the host's loopback server is reachable (the control)" "$out"; fi

start=$(date +%s.%N)
out=$(vm_sh private "bash probe.sh $targets" 2>&1)
echo "# private: $(elapsed "$start") s"
if ! printf '%s' "$out" | grep -q "^reached"; then
    pass "private: the host's loopback server is unreachable"
else fail "private: the host's loopback server is unreachable" "$out"; fi
if printf '%s' "$out" | grep -qx "refused 10.0.2.2:$port" && printf '%s' "$out" | grep -qx "interfaces: eth0 lo "; then
    pass "private: the VM has a network (eth0; QEMU's gateway answers, with a refusal)"
else fail "private: the VM has a network (eth0; QEMU's gateway answers, with a refusal)" "$out"; fi

start=$(date +%s.%N)
out=$(vm_sh none "bash probe.sh $targets" 2>&1)
echo "# none: $(elapsed "$start") s"
if printf '%s' "$out" | grep -qx "unreachable 10.0.2.2:$port" && ! printf '%s' "$out" | grep -q "^reached" &&
    printf '%s' "$out" | grep -qx "interfaces: lo "; then
    pass "none: nothing is reachable, and the VM has no interface but loopback"
else fail "none: nothing is reachable, and the VM has no interface but loopback" "$out"; fi
finish
