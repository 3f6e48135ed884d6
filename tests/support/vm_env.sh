# Sourced by the tests/integration/vm_*.sh suites (after tests/lib.sh):
# skips the whole suite, saying why, when this machine cannot boot a VM;
# gives a home and a project of the suite's own.
#
#   vm_home, vm_proj       the home (as HOME) and a project in it, whose
#                          name is this run's own (QEMU is found by it)
#   vm_sbx ARGS...         $SBX as root with the environment from nothing
#   vm_sh NET CMD [ARGS]   bash -c CMD in a VM on $vm_proj (stdio mode)
#   vm_qemu_left           prints the QEMU processes of $vm_proj's VMs
#   elapsed START          seconds since START (date +%s.%N)

vm_suite_start() { # WHAT
    why=""
    if ! command -v qemu-system-x86_64 > /dev/null; then
        why="QEMU is not installed (apt-get install qemu-system-x86)"
    else
        printf 'local k, why = require("sbx.guest").find_kernel()\nio.write(k and "" or why)\n' > "$scratch/kernel.lua"
        why=$("$SBX" lua "$scratch/kernel.lua")
    fi
    if [ -n "$why" ]; then
        skip "$1" "$why"
        finish
        exit 0
    fi
}

vm_home="$scratch/home"
vm_proj="$vm_home/vmproj-$$"
mkdir -p "$vm_proj"

vm_sbx() {
    env -i HOME="$vm_home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 ${vm_env:-} "$SBX" "$@"
}

vm_sh() {
    network=$1 command=$2; shift 2
    vm_sbx run --backend vm --shell --network "$network" "$@" "$vm_proj" -- -c "$command" < /dev/null
}

vm_qemu_left() {
    # QEMU is named after the project (-name sbx-<project>).
    pgrep -af "qemu-system-x86_64 -name sbx-vmproj-$$ "
}

elapsed() {
    echo "$(date +%s.%N) $1" | awk '{ printf "%.1f", $1 - $2 }'
}

vm_cleanup() {
    vm_sbx run --stop "$vm_proj" > /dev/null 2>&1
    for pid in $(pgrep -f "qemu-system-x86_64 -name sbx-vmproj-$$ "); do kill -KILL "$pid" 2> /dev/null; done
}
at_exit vm_cleanup
