# What must work inside `sbx run --backend container` (systemd-nspawn), as
# root: the function checks of run_function.sh
# (tests/support/function_checks.sh), and what is the container's own: it
# ends with the sbx run that made it, and --stop leaves neither nspawn nor
# the container's directory behind.
. tests/lib.sh
. tests/support/run_env.sh
. tests/support/model_server.sh
. tests/support/function_checks.sh
. tests/support/container_env.sh

container_suite_start "sbx run --backend container function checks"
function_setup
use_identity root
echo "# ---- as root, --backend container"
function_checks

# --stop: the init ends, then nspawn, then the directory it ran on goes.
start_background "$scratch/stopped.log" run $backend_args --shell --network none "$proj" -- -c 'sleep 300'
first=$background
if init=$(wait_running); then
    nspawn_pid=$(registration nspawn_pid)
    launch_dir=$(registration launch_dir)
    out=$(sbx_run --stop "$proj" 2>&1); code=$?
    wait "$first"
    if [ $code -eq 0 ] && [ -n "$nspawn_pid" ] && [ ! -e "/proc/$init" ] && [ ! -e "/proc/$nspawn_pid" ] \
        && [ -n "$launch_dir" ] && [ ! -e "$launch_dir" ]; then
        pass "root: --stop ends the container's init and nspawn, and removes its directory"
    else fail "root: --stop ends the container's init and nspawn, and removes its directory" \
        "exit $code, nspawn '$nspawn_pid', dir '$launch_dir': $out"; fi
else
    fail "root: a background container sandbox registers" "$(cat "$scratch/stopped.log")"
    kill "$first" 2> /dev/null
fi

# The sbx run that made it killed outright: its container goes too, as the
# engine's sandboxes do (their init dies with its parent).
start_background "$scratch/killed.log" run $backend_args --shell --network none "$proj" -- -c 'sleep 300'
killed=$background
if init=$(wait_running); then
    nspawn_pid=$(registration nspawn_pid)
    kill -KILL "$(registration owner)"
    for _ in $(seq 100); do [ -e "/proc/$init" ] || [ -e "/proc/$nspawn_pid" ] || break; sleep 0.1; done
    if [ ! -e "/proc/$init" ] && [ ! -e "/proc/$nspawn_pid" ] && [ "$(sbx_in ps)" = "no sandboxes running" ]; then
        pass "root: a container ends with the sbx run that made it, even killed"
    else fail "root: a container ends with the sbx run that made it, even killed" \
        "init $init, nspawn $nspawn_pid: $(ps -o pid=,args= -p "$init,$nspawn_pid")"; fi
else
    fail "root: a background container sandbox registers" "$(cat "$scratch/killed.log")"
    kill "$killed" 2> /dev/null
fi
container_refusal_check
finish
