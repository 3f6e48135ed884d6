# The escape attempts of the `sbx run` suites, each expected to fail,
# whichever backend makes the sandbox ($backend_args, see run_env.sh). Each
# has a control that shows the same attempt succeeding outside (or with the
# door opened), so a pass means the sandbox stopped it. Sourced after
# tests/lib.sh and tests/support/run_env.sh.
#
#   escape_setup     once: the injector, and servers on the host's loopback
#   escape_checks    every attempt, as the identity in use (use_identity)

escape_setup() {
    cc -std=c11 -D_GNU_SOURCE -O1 -o "$shared/tty_inject" tests/support/tty_inject.c

    # A server on the host's loopback and one on an abstract Unix socket, each
    # answering with a token; for the network checks.
    token="host-loopback-token-$$"
    cat > "$shared/servers.py" <<'PY'
import socket, sys, threading
token = sys.argv[1].encode()
tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen(8)
unix = socket.socket(socket.AF_UNIX); unix.bind("\0" + sys.argv[2]); unix.listen(8)
print(tcp.getsockname()[1], flush=True)
def serve(s):
    while True:
        c, _ = s.accept(); c.sendall(token + b"\n"); c.close()
threading.Thread(target=serve, args=(unix,), daemon=True).start()
serve(tcp)
PY
    abstract="sbx-it-abstract-$$"
    /usr/bin/python3 "$shared/servers.py" "$token" "$abstract" > "$scratch/port" &
    server_pid=$!
    at_exit 'end_processes $server_pid'
    for _ in $(seq 50); do [ -s "$scratch/port" ] && break; sleep 0.1; done
    port=$(cat "$scratch/port")
    # Bounded: in private mode a connection to the gateway goes out to the real
    # one, which may never answer.
    connect_tcp="timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$port && head -1 <&3'"
    connect_abstract="/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"\\0$abstract\"); print(s.recv(100).decode().strip())'"
}

escape_checks() {
    # Secrets outside the project: one in the home, one elsewhere, both
    # readable by this identity on the host.
    secret="secret-$who-$$"
    as_id sh -c "echo '$secret' > '$home/secret.txt'"
    other=$(mktemp -d /tmp/sbx-it-other.XXXXXX); chmod 755 "$other"
    echo "$secret" > "$other/secret.txt"; chmod 644 "$other/secret.txt"
    if as_id cat "$home/secret.txt" "$other/secret.txt" > /dev/null; then
        out=$(sandbox_sh none "cat '$home/secret.txt'; cat '$other/secret.txt'; grep -r '$secret' '$home' /tmp 2>/dev/null" 2>&1)
        if printf '%s' "$out" | grep -q "$secret"; then fail "$who: secret files outside the project are unreadable" "$out"
        else pass "$who: secret files outside the project are unreadable"; fi
    else fail "$who: the control read of the secret files works"; fi
    rm -rf "$other"

    out=$(sandbox_sh none "cat /etc/shadow; ls /etc" 2>&1)
    if printf '%s' "$out" | grep -q 'root:'; then fail "$who: /etc/shadow is unreadable" "$out"
    elif printf '%s' "$out" | grep -qx shadow; then fail "$who: /etc/shadow is not even there" "$out"
    else pass "$who: /etc/shadow is unreadable (absent)"; fi

    as_id sh -c "printf '[user]\n\tname = host\n' > '$home/.gitconfig'"
    out=$(sandbox_sh none "touch /usr/sbx-probe-$$ && echo WROTE-usr; echo x >> ~/.gitconfig && echo WROTE-gitconfig; touch /etc/probe && echo WROTE-etc; touch /sbx-probe && echo WROTE-root" 2>&1)
    if printf '%s' "$out" | grep -q WROTE || [ -e "/usr/sbx-probe-$$" ] || grep -q '^x' "$home/.gitconfig"; then
        fail "$who: read-only mounts cannot be written" "$out"
    else pass "$who: read-only mounts cannot be written (/usr, ~/.gitconfig, /etc, /)"; fi
    rm -f "/usr/sbx-probe-$$"

    as_id sleep 987$$ > /dev/null 2>&1 &
    sleeper=$!
    sleep 0.3
    host_pid=$(pgrep -f "^sleep 987$$\$" | head -1)
    # The marker is spelled in two pieces, so this command line holds no copy.
    out=$(sandbox_sh none "kill -0 $host_pid && echo SIGNALLED; grep -l \"987\"\"$$\" /proc/[0-9]*/cmdline && echo SEEN; ps -e | wc -l" 2>&1)
    if [ -z "$host_pid" ]; then fail "$who: the host process to hide was started"
    elif printf '%s' "$out" | grep -qE 'SIGNALLED|SEEN' || ! kill -0 "$host_pid" 2>/dev/null; then
        fail "$who: host processes are invisible and cannot be signalled" "$out"
    else pass "$who: host processes are invisible and cannot be signalled"; fi
    kill "$host_pid" "$sleeper" 2> /dev/null

    cp "$shared/tty_inject" "$proj/tty_inject"; chown "$uid" "$proj/tty_inject"
    # A real terminal around sbx (script), so the ioctls have a tty to aim at.
    # (script turns its own end of input into a stray ^@; it is not ours.)
    out=$(as_id script -qec "'$shared/sbx' run $backend_args --shell --network none '$proj' -- -c ./tty_inject" /dev/null < /dev/null 2>&1 | tr -d '\r' | sed 's/\^@//g')
    if printf '%s\n' "$out" | grep -qx 'TIOCSTI EPERM' && printf '%s\n' "$out" | grep -qx 'TIOCSTI-high EPERM' \
        && printf '%s\n' "$out" | grep -qx 'TIOCLINUX EPERM' && printf '%s\n' "$out" | grep -qx 'TIOCLINUX-high EPERM' \
        && ! printf '%s' "$out" | grep -q '#'; then
        pass "$who: TIOCSTI and TIOCLINUX (also with high bits) are refused"
    else fail "$who: TIOCSTI and TIOCLINUX (also with high bits) are refused" "$out"; fi

    cp /usr/bin/id "$proj/setuid-id"
    if [ "$who" = user ]; then chown root:root "$proj/setuid-id"; else chown 65534:65534 "$proj/setuid-id"; fi
    chmod 4755 "$proj/setuid-id"
    out=$(sandbox_sh none "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status; mkdir -p /tmp/m; mount -t tmpfs none /tmp/m && echo MOUNTED; echo euid=\$(./setuid-id -u) uid=\$(id -u)" 2>&1)
    if printf '%s\n' "$out" | grep -E '^Cap' | grep -vq '0000000000000000' || ! printf '%s' "$out" | grep -q 'NoNewPrivs:.1' \
        || printf '%s' "$out" | grep -q MOUNTED || ! printf '%s' "$out" | grep -qE "^euid=([0-9]+) uid=\\1\$"; then
        fail "$who: no capabilities, no mount, no privilege from a setuid binary" "$out"
    else pass "$who: no capabilities, no mount, no privilege from a setuid binary"; fi

    extra_env="SBX_TEST_SECRET=env-secret-$$ GH_TOKEN=ghp_env_$$"
    out=$(sandbox_sh none "env" 2>&1)
    with_token=$(sbx_run --shell --gh-token --network none "$proj" -- -c env < /dev/null 2>&1)
    extra_env=""
    if printf '%s' "$out" | grep -qE "env-secret-$$|ghp_env_$$"; then
        fail "$who: host secrets in the environment stay out" "$out"
    elif ! printf '%s' "$with_token" | grep -q "^GH_TOKEN=ghp_env_$$" || printf '%s' "$with_token" | grep -q "env-secret-$$"; then
        fail "$who: --gh-token passes GH_TOKEN and nothing else" "$with_token"
    else pass "$who: host secrets in the environment stay out; GH_TOKEN only with --gh-token"; fi

    control=$(sandbox_sh host "$connect_tcp; $connect_abstract" 2>&1)
    if [ "$(printf '%s\n' "$control" | grep -c "$token")" -ne 2 ]; then
        fail "$who: control: --network host reaches the host's loopback and abstract sockets" "$control"
    else
        pass "$who: control: --network host reaches the host's loopback and abstract sockets"
        for mode in none private; do
            gateway="ip=\$(awk '\$2 == \"00000000\" { print \$3 }' /proc/net/route | head -1); [ -n \"\$ip\" ] && gw=\$(printf '%d.%d.%d.%d' 0x\${ip:6:2} 0x\${ip:4:2} 0x\${ip:2:2} 0x\${ip:0:2}) && timeout 5 bash -c \"exec 4<>/dev/tcp/\$gw/$port && head -1 <&4\""
            out=$(sandbox_sh "$mode" "$connect_tcp; $connect_abstract; $gateway" 2>&1)
            if printf '%s' "$out" | grep -q "$token"; then
                fail "$who: --network $mode cannot reach host loopback or abstract sockets" "$out"
            else pass "$who: --network $mode cannot reach host loopback, the gateway or abstract sockets"; fi
        done
    fi

    as_id sh -c "mkdir -p '$home/.claude' && echo '{\"marker\": 1}' > '$home/.claude/settings.json'"
    out=$(sandbox_sh none "echo '{}' > ~/.claude/settings.json && echo WROTE; rm -f ~/.claude/settings.json && echo REMOVED; mv ~/.claude/hooks ~/.claude/h2 && echo MOVED; mkdir ~/.claude/hooks/evil && echo HOOKED; echo note > ~/.claude/sandbox-note.txt && echo NOTE-OK" 2>&1)
    if printf '%s' "$out" | grep -qE 'WROTE|REMOVED|MOVED|HOOKED' || ! grep -q marker "$home/.claude/settings.json"; then
        fail "$who: ~/.claude/settings.json and hooks/ cannot be changed" "$out"
    elif ! grep -q note "$home/.claude/sandbox-note.txt" 2>/dev/null; then
        fail "$who: the rest of ~/.claude is writable and persists (control)" "$out"
    else pass "$who: ~/.claude/settings.json and hooks/ cannot be changed; the rest of ~/.claude persists"; fi

    state=$(state_dir)
    out=$(sandbox_sh none "rmdir ~/.config/chromium && echo REMOVED; mv ~/.local/bin ~/.local/b2 && echo MOVED; ln -s '$home' ~/.local/share/home-link; ls -A ~/.local/state 2>/dev/null | grep -q . && echo STATE-VISIBLE; echo done" 2>&1)
    if printf '%s' "$out" | grep -qE 'REMOVED|MOVED|STATE-VISIBLE' || [ -L "$state/chromium" ] || [ ! -d "$state/local/bin" ] \
        || [ -L "$state/local/bin" ]; then
        fail "$who: the sandbox cannot replace its state directory's parts nor see the registry" "$out"
    else pass "$who: the sandbox cannot replace its state directory's parts nor see the registry"; fi
    # Had something replaced a part with a link (to ~, here), a later launch
    # must refuse rather than bind whatever the link points at.
    rm -rf "$state/chromium"; as_id ln -s "$home" "$state/chromium"
    out=$(sandbox_sh none "ls -A ~/.config/chromium" 2>&1); code=$?
    if [ $code -ne 0 ] && printf '%s' "$out" | grep -q "symbolic link" && ! printf '%s' "$out" | grep -q secret.txt; then
        pass "$who: a symbolic link planted in the state directory makes the next launch refuse"
    else fail "$who: a symbolic link planted in the state directory makes the next launch refuse" "exit $code: $out"; fi
    rm -f "$state/chromium"

    # A registration naming a host process, with its true start time (as if
    # something had written one): --stop must not signal it, --enter must
    # not run anything in its namespaces.
    as_id sleep 876$$ > /dev/null 2>&1 &
    sleeper=$!
    sleep 0.3
    victim=$(pgrep -f "^sleep 876$$\$" | head -1)
    registration="${state%/projects/*}/running/${state##*/}.$victim.json"
    as_id mkdir -p "${registration%/*}"
    as_id sh -c "printf '{\"id\":\"%s\",\"project\":\"%s\",\"pid\":%s,\"start_time\":%s,\"network\":\"none\"}' \
        '${state##*/}' '$proj' '$victim' \"\$(cut -d')' -f2 /proc/$victim/stat | cut -d' ' -f21)\" > '$registration'"
    stop_out=$(sbx_run --stop "$proj" 2>&1); stop_code=$?
    enter_out=$(sbx_run --enter "$proj" -- -c 'echo RAN-INSIDE' < /dev/null 2>&1); enter_code=$?
    if [ -n "$victim" ] && kill -0 "$victim" 2> /dev/null && [ $stop_code -ne 0 ] && [ $enter_code -ne 0 ] \
        && ! printf '%s' "$enter_out" | grep -q RAN-INSIDE && printf '%s' "$stop_out" | grep -q "user namespace"; then
        pass "$who: a registration naming a host process makes sbx neither signal nor enter it"
    else fail "$who: a registration naming a host process makes sbx neither signal nor enter it" \
        "victim $victim, stop $stop_code: $stop_out; enter $enter_code: $enter_out"; fi
    kill "$victim" "$sleeper" 2> /dev/null
    rm -f "$registration"
}
