# DNS in a sandbox with a network of its own when the host resolves on its
# own loopback (systemd-resolved's 127.0.0.53, a local dnsmasq), which the
# sandbox's network namespace cannot reach: pasta forwards one address to
# that resolver, UDP port 53 only, and the sandbox's resolv.conf names it.
# sbx runs in a mount namespace where /etc/resolv.conf names a resolver the
# suite serves on a loopback address, so the host's own is not touched.
. tests/lib.sh

if [ "$(id -u)" -ne 0 ] || ! command -v unshare > /dev/null || ! command -v pasta > /dev/null ||
    ! command -v getent > /dev/null; then
    skip "DNS through a loopback resolver" "needs root (a mount namespace), util-linux's unshare, pasta and getent"
    finish
    exit 0
fi

resolver=127.0.0.77
name=sbx-dns-check.example.test
python3 tests/support/dns_server.py "$resolver" "$name" 10.1.2.3 "$scratch/queries" > "$scratch/dns.out" 2>&1 &
dns_server=$!
at_exit "kill $dns_server 2>/dev/null"
for _ in $(seq 50); do grep -q ready "$scratch/dns.out" && break; sleep 0.1; done
grep -q ready "$scratch/dns.out" || { fail "the test's DNS server starts" "$(cat "$scratch/dns.out")"; finish; exit 1; }
# And a TCP service on the same address and port: DNS over TCP is not
# forwarded, and the host's loopback stays out of reach.
python3 -c '
import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 53)); s.listen(4); print("ready", flush=True)
while True: c, _ = s.accept(); c.sendall(b"host-loopback-tcp\n"); c.close()' "$resolver" > "$scratch/tcp.out" 2>&1 &
tcp_server=$!
at_exit "kill $tcp_server 2>/dev/null"

printf 'nameserver %s\nsearch example.test\noptions timeout:2\n' "$resolver" > "$scratch/resolv.conf"
home="$scratch/home"
proj="$home/proj"
mkdir -p "$proj"
sandbox_sh() { # NETWORK COMMAND [RUN-OPTION...]
    network=$1 command=$2; shift 2
    unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' - "$scratch/resolv.conf" \
        env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
        "$SBX" run --shell --network "$network" "$@" "$proj" -- -c "$command" < /dev/null
}

out=$(sandbox_sh private "cat /etc/resolv.conf; getent hosts $name; getent hosts sbx-dns-check" 2>&1); code=$?
if [ $code -eq 0 ] && printf '%s' "$out" | grep -qx "nameserver 169.254.1.1" &&
    printf '%s' "$out" | grep -qx "search example.test" && ! printf '%s' "$out" | grep -q "nameserver $resolver"; then
    pass "private: the sandbox's resolv.conf names pasta's forwarded address and keeps the search domains"
else fail "private: the sandbox's resolv.conf names pasta's forwarded address and keeps the search domains" "exit $code: $out"; fi
if [ "$(printf '%s' "$out" | grep -c "^10\.1\.2\.3 ")" -eq 2 ] && [ "$(cat "$scratch/queries" 2>/dev/null || echo 0)" -ge 1 ]; then
    pass "private: names resolve through the host's loopback resolver ($(cat "$scratch/queries") queries reached it)"
else fail "private: names resolve through the host's loopback resolver" "exit $code: $out"; fi

probe='for target in 169.254.1.1 '"$resolver"'; do
    timeout 5 bash -c "exec 3<>/dev/tcp/$target/53 && head -1 <&3" 2>/dev/null && echo "REACHED $target"
done; echo probed'
out=$(sandbox_sh private "$probe" 2>&1)
if printf '%s' "$out" | grep -qx probed && ! printf '%s' "$out" | grep -q "REACHED\|host-loopback-tcp"; then
    pass "private: TCP to the forwarded address and to the host's loopback stays out of reach"
else fail "private: TCP to the forwarded address and to the host's loopback stays out of reach" "$out"; fi

out=$(sandbox_sh host "cat /etc/resolv.conf; getent hosts $name" 2>&1); code=$?
if [ $code -eq 0 ] && printf '%s' "$out" | grep -qx "nameserver $resolver" && printf '%s' "$out" | grep -q "^10\.1\.2\.3 "; then
    pass "host: the sandbox uses the host's resolv.conf as it is (the control)"
else fail "host: the sandbox uses the host's resolv.conf as it is (the control)" "exit $code: $out"; fi

# A VM on a private network: QEMU's own resolver (10.0.2.3 in the guest)
# asks the host's through the same forward.
printf 'local k, why = require("sbx.guest").find_kernel()\nio.write(k and "" or why)\n' > "$scratch/kernel.lua"
why=$("$SBX" lua "$scratch/kernel.lua")
command -v qemu-system-x86_64 > /dev/null || why="QEMU is not installed"
if [ -z "$why" ]; then
    out=$(sandbox_sh private "getent hosts $name" --backend vm 2>&1); code=$?
    if [ $code -eq 0 ] && printf '%s' "$out" | grep -q "^10\.1\.2\.3 "; then
        pass "vm, private: names resolve through the host's loopback resolver too"
    else fail "vm, private: names resolve through the host's loopback resolver too" "exit $code: $out"; fi
else skip "vm, private: DNS through the host's loopback resolver" "$why"; fi
finish
