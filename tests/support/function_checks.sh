# What must work inside an `sbx run` sandbox, whichever backend makes it
# ($backend_args, see run_env.sh): git, Chromium with its own sandbox, a
# window on a host X display, the session bus, the real Claude Code,
# joining and --enter, --stop, pasta ending with its sandbox, --tmux.
# Sourced after tests/lib.sh, tests/support/run_env.sh and
# tests/support/model_server.sh.
#
#   function_setup    once: an X display, the scripted model's turns
#   function_checks   every check, as the identity in use (use_identity)

# A background `sbx run` whose end we wait for; prints nothing.
start_background() { # LOG ARGS...
    log=$1; shift
    sbx_in "$@" < /dev/null > "$log" 2>&1 &
    background=$!
}

# A tmux command on the project's sandbox's socket, run inside it: a host
# tmux client need not understand (or trust) a server in a sandbox.
in_tmux() { # COMMAND
    sbx_run --enter "$proj" -- -c "tmux -S /run/sbx/tmux/socket $1" < /dev/null
}

function_setup() {
    # A host X display, with a cookie, for the window check.
    display=""
    if command -v Xvfb > /dev/null && command -v xauth > /dev/null; then
        for n in $(shuf -i 200-899 -n 20); do
            [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { display=$n; break; }
        done
        xauth -f "$shared/Xauthority" add ":$display" . "$(mcookie)" > /dev/null 2>&1
        chmod 644 "$shared/Xauthority"
        Xvfb ":$display" -auth "$shared/Xauthority" -nolisten tcp -screen 0 640x480x24 > "$scratch/xvfb.log" 2>&1 &
        xvfb_pid=$!
        at_exit 'end_processes $xvfb_pid'
        for _ in $(seq 100); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
    fi

    claude_skip=""
    if ! find_claude; then
        claude_skip="no claude: $claude_missing (make deps installs it)"
    else
        printf 'return { { text = "Hello from the scripted model." } }\n' > "$shared/hi.lua"
        cat > "$shared/quiet-claude.lua" <<'LUA'
for _, name in ipairs { "DISABLE_TELEMETRY", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
  "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL" } do
  table.insert(spec.env.allow, name)
end
LUA
        chmod 644 "$shared/hi.lua" "$shared/quiet-claude.lua"
    fi
}

function_checks() {
    as_id git -C "$proj" init -q
    out=$(sandbox_sh none "git -c user.name=Sandbox -c user.email=s@example.org commit -q --allow-empty -m 'made inside' && git log --oneline | wc -l" 2>&1)
    if as_id git -C "$proj" log --format=%s 2> /dev/null | grep -q 'made inside'; then
        pass "$who: git commit inside lands in the project on the host"
    else fail "$who: git commit inside lands in the project on the host" "$out"; fi

    if command -v chromium > /dev/null; then
        page='data:text/html,<body style="background:rgb(220,30,30)"><h1 style="color:white">sbx</h1></body>'
        out=$(sandbox_sh none "chromium --headless --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync --window-size=320,240 --screenshot=$proj/shot.png '$page' 2>&1 | tail -5; ls -l $proj/shot.png" 2>&1)
        colours=$(convert "$proj/shot.png" -format '%[fx:mean.r] %[fx:mean.g]' info: 2> /dev/null)
        if [ -n "$colours" ] && echo "$colours" | awk '{ exit !($1 > 0.6 && $2 < 0.4) }'; then
            pass "$who: Chromium inside, its own sandbox on, renders a non-blank screenshot ($colours)"
        else fail "$who: Chromium inside, its own sandbox on, renders a non-blank screenshot" "colours '$colours': $out"; fi
        # Its own sandbox, seen from the shell that starts it: each renderer
        # in user and PID namespaces of its own, under a seccomp filter.
        out=$(sandbox_sh none "chromium --headless --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync --remote-debugging-port=0 about:blank > /dev/null 2>&1 &
            renderers() { for p in \$(pgrep -x chromium); do tr '\\0' ' ' < /proc/\$p/cmdline 2>/dev/null | grep -q -- --type=renderer && echo \$p; done; }
            for _ in \$(seq 100); do [ -n \"\$(renderers)\" ] && break; sleep 0.1; done
            for p in \$(renderers); do echo renderer \$(readlink /proc/\$p/ns/user) \$(readlink /proc/\$p/ns/pid) \$(grep -c '^Seccomp:.2' /proc/\$p/status); done
            echo mine \$(readlink /proc/self/ns/user) \$(readlink /proc/self/ns/pid); kill %1" 2>&1)
        if printf '%s\n' "$out" | awk '$1 == "mine" { user = $2; pid = $3 }
                $1 == "renderer" { n++; if ($4 != 1) bad++; r[n] = $2 " " $3 }
                END { for (i = 1; i <= n; i++) { split(r[i], ns, " "); if (ns[1] == user || ns[2] == pid) bad++ }
                      exit !(n > 0 && !bad && user != "") }'; then
            pass "$who: Chromium's renderers run in its own sandbox (user and PID namespaces, seccomp)"
        else fail "$who: Chromium's renderers run in its own sandbox (user and PID namespaces, seccomp)" "$out"; fi
    else skip "$who: Chromium screenshot" "chromium is not installed"; fi

    if [ -n "$display" ]; then
        extra_env="DISPLAY=:$display XAUTHORITY=$shared/Xauthority"
        start_background "$scratch/xmessage.log" run $backend_args --shell --network none "$proj" -- -c \
            "timeout 15 xmessage -name sbxwindow -geometry 300x200+20+20 -bg red -fg red 'from inside'"
        extra_env=""
        seen=""
        for _ in $(seq 100); do
            if XAUTHORITY="$shared/Xauthority" xwininfo -display ":$display" -root -tree 2> /dev/null | grep -q sbxwindow
            then seen=1; break; fi
            sleep 0.1
        done
        sleep 0.5
        capture="$scratch/capture-$who.png"
        XAUTHORITY="$shared/Xauthority" import -display ":$display" -window root "$capture" 2> /dev/null
        red=$(convert "$capture" -format '%[fx:mean.r]' info: 2> /dev/null)
        if [ -n "$seen" ] && echo "$red" | awk '{ exit !($1 > 0.1) }'; then
            pass "$who: a window opened inside appears on the host's X display, and a capture shows it"
        else fail "$who: a window opened inside appears on the host's X display" "seen=$seen red=$red: $(cat "$scratch/xmessage.log")"; fi
        sbx_run --stop "$proj" > /dev/null 2>&1
        wait "$background" 2> /dev/null
    else skip "$who: X11 window" "Xvfb or xauth is not installed"; fi

    out=$(sbx_run --network none "$proj" -- --version < /dev/null 2>&1)
    host_version=$(as_id /usr/local/lib/sbx/claude-code/node_modules/.bin/claude --version 2> /dev/null || claude --version 2>/dev/null)
    if printf '%s' "$out" | grep -qE '^[0-9]+\.[0-9]+\.[0-9]+ \(Claude Code\)' && [ "$out" = "$host_version" ]; then
        pass "$who: the real claude --version runs inside ($out)"
    else fail "$who: the real claude --version runs inside" "inside: $out; host: $host_version"; fi

    # The session bus: only through xdg-dbus-proxy, which hides the other
    # clients of the bus (their unique names) from the sandbox.
    if command -v dbus-daemon > /dev/null && command -v xdg-dbus-proxy > /dev/null && command -v gdbus > /dev/null; then
        busdir=$(as_id mktemp -d /tmp/sbx-it-bus.XXXXXX)
        bus="unix:path=$busdir/bus"
        as_id dbus-daemon --session --address="$bus" --fork --print-pid > "$scratch/bus-$who.pid"
        as_id env DBUS_SESSION_BUS_ADDRESS="$bus" timeout 60 gdbus monitor --session --dest org.freedesktop.DBus > /dev/null 2>&1 &
        monitor=$!
        # The bus and its monitor end at exit, also when a check fails.
        at_exit "end_processes $monitor \$(cat '$scratch/bus-$who.pid'); rm -rf '$busdir'"
        list_names="dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames"
        sleep 0.5
        host_unique=$(as_id env DBUS_SESSION_BUS_ADDRESS="$bus" $list_names 2>&1 | grep -c '":1\.')
        extra_env="DBUS_SESSION_BUS_ADDRESS=$bus"
        out=$(sandbox_sh none "echo address=\$DBUS_SESSION_BUS_ADDRESS; $list_names" 2>&1)
        extra_env=""
        inside_unique=$(printf '%s' "$out" | grep -c '":1\.')
        if [ "$who" = root ]; then
            # Root's sandbox runs as uid 1000 inside, which the bus would
            # not authenticate: it is not forwarded at all.
            if printf '%s' "$out" | grep -q "^address=\$" && ! printf '%s' "$out" | grep -q '"org.freedesktop.DBus"'; then
                pass "$who: the session bus is not forwarded into root's sandbox"
            else fail "$who: the session bus is not forwarded into root's sandbox" "$out"; fi
        elif printf '%s' "$out" | grep -q "address=unix:path=/run/user/[0-9]*/bus" \
            && printf '%s' "$out" | grep -q '"org.freedesktop.DBus"' && [ "$host_unique" -ge 2 ] && [ "$inside_unique" -le 1 ]; then
            pass "$who: the session bus is reachable only through the filtering proxy ($host_unique clients on the host, $inside_unique seen inside)"
        else fail "$who: the session bus is reachable only through the filtering proxy" "host saw $host_unique, inside: $out"; fi
    else skip "$who: session bus through xdg-dbus-proxy" "dbus-daemon, gdbus or xdg-dbus-proxy is not installed"; fi

    # The real Claude Code, one turn against the scripted model server on
    # the host's loopback (so --network host: the other modes shut exactly
    # that out). The config passes the variables that keep it off the
    # network, the way a user widens the spec.
    if [ -z "$claude_skip" ] && model_server_start "$shared/hi.lua"; then
        claude_home "$home" "$proj"
        chown -R "$uid" "$home/.claude" "$home/.claude.json"
        extra_env="ANTHROPIC_BASE_URL=$ANTHROPIC_BASE_URL ANTHROPIC_API_KEY=$ANTHROPIC_API_KEY SBX_CONFIG=$shared/quiet-claude.lua DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL=1"
        out=$(sbx_run --network host "$proj" -- -p "say hi" < /dev/null 2>&1); code=$?
        extra_env=""
        session=$(python3 -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]['session_id'])" "$model_server_log" 2> /dev/null)
        jsonl="$home/.claude/projects/$(claude_project_dir "$proj")/$session.jsonl"
        if [ $code -eq 0 ] && [ "$out" = "Hello from the scripted model." ] && [ -n "$session" ] \
            && grep -q '"type":"assistant"' "$jsonl" 2> /dev/null; then
            pass "$who: the real claude -p completes a turn inside; its session JSONL is on the host"
        else fail "$who: the real claude -p completes a turn inside; its session JSONL is on the host" "exit $code, session '$session', $jsonl: $out"; fi
        model_server_stop
    else skip "$who: claude -p inside" "${claude_skip:-the model server did not start}"; fi

    # One sandbox per project: a second run joins it, --enter too.
    # A sleep no other test on this machine runs (its length has our pid in).
    start_background "$scratch/first.log" run $backend_args --shell --network none "$proj" -- -c "sleep 9$$"
    first=$background
    if init=$(wait_running); then
        host_ns=$(readlink "/proc/$init/ns/pid")
        joined=$(sbx_run --shell --network none "$proj" -- -c 'readlink /proc/self/ns/pid' < /dev/null 2>&1)
        entered=$(sbx_run --enter "$proj" -- -c 'readlink /proc/self/ns/pid; ps -e -o comm=' < /dev/null 2>&1)
        if [ "$joined" = "$host_ns" ] && [ "$(echo "$entered" | head -1)" = "$host_ns" ] \
            && echo "$entered" | grep -qx sleep; then
            pass "$who: a second run joins the running sandbox and --enter lands in its PID namespace"
        else fail "$who: a second run joins and --enter lands in the same PID namespace" "init ns $host_ns; joined: $joined; entered: $entered"; fi
        ps_out=$(sbx_in ps 2>&1)
        if echo "$ps_out" | grep -q "$init .*$proj"; then pass "$who: sbx ps lists the running sandbox"
        else fail "$who: sbx ps lists the running sandbox" "$ps_out"; fi
        out=$(sbx_run --stop "$proj" 2>&1); code=$?
        wait "$first"; first_code=$?
        left=$(ps -eo comm=,args= | grep -c "^sleep  *sleep 9$$\$")
        if [ $code -eq 0 ] && [ ! -e "/proc/$init" ] && [ "$left" -eq 0 ] \
            && [ "$(sbx_in ps)" = "no sandboxes running" ]; then
            pass "$who: --stop ends the sandbox and leaves no process (the first run exited $first_code)"
        else fail "$who: --stop ends the sandbox and leaves no process" "exit $code, init $( [ -e /proc/$init ] && echo alive || echo gone ), $left sleep left: $out"; fi
    else
        fail "$who: the background sandbox registers" "$(cat "$scratch/first.log")"
        kill "$first" 2> /dev/null
    fi

    # pasta serves a private network from outside the sandbox, so nothing
    # inside can end it: it must end with the sandbox, not outlive it.
    if command -v pasta > /dev/null; then
        live_pasta() { ps -eo stat=,args= | awk '$1 !~ /^Z/' | grep -c "pasta .* $1\$"; }
        start_background "$scratch/private.log" run $backend_args --shell --network private "$proj" -- -c 'sleep 300'
        private_run=$background
        if init=$(wait_running); then
            during=$(live_pasta "$init")
            sbx_run --stop "$proj" > /dev/null 2>&1
            wait "$private_run"
            for _ in $(seq 50); do [ "$(live_pasta "$init")" -eq 0 ] && break; sleep 0.1; done
            after=$(live_pasta "$init")
            if [ "$during" -eq 1 ] && [ "$after" -eq 0 ]; then
                pass "$who: the sandbox's pasta ends with it"
            else fail "$who: the sandbox's pasta ends with it" "pasta processes while running: $during, after: $after"; fi
        else
            fail "$who: a --network private sandbox starts in the background" "$(cat "$scratch/private.log")"
            kill "$private_run" 2> /dev/null
        fi
    else skip "$who: pasta ends with the sandbox" "pasta is not installed"; fi

    if command -v tmux > /dev/null && command -v script > /dev/null; then
        mkfifo "$scratch/tmux-in-$who"; chmod 666 "$scratch/tmux-in-$who"
        sleep 60 > "$scratch/tmux-in-$who" &
        holder=$!
        # With the session bus (not root's): it must outlive the detach.
        bus_env=""
        [ "$who" != root ] && [ -n "${bus:-}" ] && bus_env="DBUS_SESSION_BUS_ADDRESS=$bus"
        extra_env=$bus_env
        as_id script -qfec "'$shared/sbx' run $backend_args --tmux --shell --network none '$proj'" /dev/null \
            < "$scratch/tmux-in-$who" > "$scratch/tmux-$who.log" 2>&1 &
        tmux_run=$!
        extra_env=""
        name=""
        if wait_running > /dev/null; then
            for _ in $(seq 50); do
                name=$(in_tmux "display-message -p -t sandbox '#S:#W'" 2> /dev/null) && [ -n "$name" ] && break
                sleep 0.1
            done
            style=$(in_tmux "show-options -g status-style" 2> /dev/null)
        fi
        if [ "$name" = "sandbox:proj" ] && echo "$style" | grep -q colour208; then
            pass "$who: --tmux runs the session sandbox:proj with an orange status bar, on the project's socket"
        else fail "$who: --tmux runs the session sandbox:proj" "name '$name', style '$style': $(tr -d '\033' < "$scratch/tmux-$who.log" | tail -5)"; fi
        in_tmux "detach-client -s sandbox" > /dev/null 2>&1
        for _ in $(seq 50); do grep -q "sbx run: detached" "$scratch/tmux-$who.log" && break; sleep 0.1; done
        if grep -q "sbx run: detached" "$scratch/tmux-$who.log" \
            && in_tmux "has-session -t sandbox" > /dev/null 2>&1 && wait_running > /dev/null; then
            pass "$who: detaching the tmux client gives the terminal back and keeps the sandbox"
        else fail "$who: detaching the tmux client gives the terminal back and keeps the sandbox" \
            "$(tr -d '\033' < "$scratch/tmux-$who.log" | tail -3)"; fi
        if [ -n "$bus_env" ]; then
            wait "$tmux_run" 2> /dev/null # the sbx run that made the sandbox has ended
            extra_env=$bus_env
            out=$(sbx_run --enter "$proj" -- -c "$list_names" < /dev/null 2>&1)
            extra_env=""
            if printf '%s' "$out" | grep -q '"org.freedesktop.DBus"'; then
                pass "$who: after the detach and the end of its sbx run, the sandbox still reaches the session bus"
            else fail "$who: after the detach and the end of its sbx run, the sandbox still reaches the session bus" "$out"; fi
        fi
        sbx_run --stop "$proj" > /dev/null 2>&1
        if [ -n "$bus_env" ]; then
            for _ in $(seq 50); do pgrep -f "xdg-dbus-proxy $bus " > /dev/null || break; sleep 0.1; done
            if ! pgrep -f "xdg-dbus-proxy $bus " > /dev/null; then pass "$who: --stop ends the handed-over session bus proxy too"
            else fail "$who: --stop ends the handed-over session bus proxy too" "$(pgrep -af xdg-dbus-proxy)"; fi
        fi
        kill "$holder" 2> /dev/null
        wait "$tmux_run" 2> /dev/null
    else skip "$who: --tmux" "tmux or script is not installed"; fi
}
