# Helpers for the `sbx manager` integration suites (sourced after
# tests/lib.sh). Every manager runs on a port the kernel picks, with its own
# state directory (so its own tmux socket) under $scratch; X displays are
# found free by the manager itself. Everything started is ended at exit.
#
# manager_start DIR [VAR=value...]   starts a manager; sets MANAGER_PID,
#                                    PORT, URL, TOKEN (when it has one)
#
# Sandboxes run the real `sbx run` and the real Claude Code, with a home of
# the suite's own ($scratch/home, made by claude_home) and the scripted
# model server as its API, so that with network host Claude starts and
# waits at its prompt: a sandbox that stays running.
# manager_stop [SIGNAL]              stops it and waits
# api METHOD PATH [curl args...]     request with the token; the body goes to
#                                    $scratch/body, the status is printed
# json EXPR                          evaluates EXPR on $scratch/body (python:
#                                    the parsed body is `b`), prints it
# wait_for DESC SECONDS CMD...       polls CMD until it succeeds

. tests/support/model_server.sh
model_server_start || exit 1
SANDBOX_HOME="$scratch/home"
claude_home "$SANDBOX_HOME"
managers_started=""

manager_cleanup() {
    for dir in $managers_started; do
        # The manager of this state, if it still runs (its pid file names
        # it by pid and start time: a pid alone may be another process's now).
        # shellcheck disable=SC2046 # the file holds two words: pid, start time
        [ -f "$dir/manager.pid" ] && procs alive $(cat "$dir/manager.pid") &&
            kill -KILL "$(cut -d' ' -f1 "$dir/manager.pid")" 2>/dev/null
        tmux -S "$dir/tmux.sock" kill-server 2>/dev/null
        # Every Xvfb drawing into this state, recorded or not (a test that
        # failed midway).
        # shellcheck disable=SC2046
        end_processes $(xvfbs_of "$dir")
    done
}
at_exit manager_cleanup

# The Xvfbs drawing into the state directory DIR (-fbdir DIR/fb/<id>/).
xvfbs_of() { procs under "$1/fb/"; }

manager_start() {
    MANAGER_DIR=$1; shift
    mkdir -p "$MANAGER_DIR"
    case " $managers_started " in *" $MANAGER_DIR "*) ;; *) managers_started="$managers_started $MANAGER_DIR" ;; esac
    : > "$MANAGER_DIR.out"
    env HOME="$SANDBOX_HOME" MANAGER_LISTEN=127.0.0.1:0 MANAGER_STATE_DIR="$MANAGER_DIR" "$@" \
        "$SBX" manager >> "$MANAGER_DIR.out" 2>&1 &
    MANAGER_PID=$!
    tries=0
    while ! grep -q "listening on" "$MANAGER_DIR.out" 2>/dev/null; do
        tries=$((tries + 1))
        if [ $tries -gt 200 ] || ! kill -0 $MANAGER_PID 2>/dev/null; then
            echo "# the manager did not start:"; sed 's/^/#   /' "$MANAGER_DIR.out"
            return 1
        fi
        sleep 0.05
    done
    URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$MANAGER_DIR.out" | tail -1)
    PORT=${URL##*:}
    TOKEN=$(cat "$MANAGER_DIR/token" 2>/dev/null || true)
}

manager_stop() {
    kill -"${1:-TERM}" $MANAGER_PID 2>/dev/null
    wait $MANAGER_PID 2>/dev/null
}

api() {
    method=$1 path=$2; shift 2
    curl -s -o "$scratch/body" -D "$scratch/headers" -w '%{http_code}' -X "$method" \
        -H "Authorization: Bearer $TOKEN" "$@" "$URL$path"
}

json() {
    python3 -c "import json,sys; b=json.load(open(sys.argv[1])); print($1)" "$scratch/body"
}

wait_for() {
    desc=$1 seconds=$2; shift 2
    tries=0
    while ! "$@" > /dev/null 2>&1; do
        tries=$((tries + 1))
        [ $tries -gt $((seconds * 10)) ] && return 1
        sleep 0.1
    done
    return 0
}
