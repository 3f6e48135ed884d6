#!/bin/sh
# The cost of starting a container sandbox: `sbx run --backend container
# --shell <dir> -- -c true` against bare systemd-nspawn given the same
# options (the command line sbx makes from the plan, on a root directory
# made once, by bench/plan_to_nspawn.lua), running `bash -c true` as its
# PID 1 directly; side by side in the same hyperfine run. Appends the
# numbers and the ratio to bench/RESULTS.md. Needs root.
# Usage: sh bench/container_startup.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
runs=${1:-30}
[ "$(id -u)" -eq 0 ] || { echo "bench: systemd-nspawn needs root" >&2; exit 1; }
. bench/startup_env.sh
bench_needs hyperfine systemd-nspawn

# Both on the host's network: pasta is a cost of its own, which nspawn
# alone does not pay. One real launch makes the state directory and the
# ~/.claude parts that the plan binds.
"$sbx" run --backend container --network host --shell "$project" -- -c true
"$sbx" run --backend container --dry-run --network host --shell "$project" -- -c true > "$scratch/plan.json"
"$sbx" lua bench/plan_to_nspawn.lua "$scratch/plan.json" "$scratch/nspawn" -- /bin/bash -c true \
    > "$scratch/nspawn.args"
quote() { sed "s/'/'\\\\''/g; s/^/'/; s/\$/'/" "$1" | tr '\n' ' '; }
nspawn_command="$(quote "$scratch/nspawn.args")"
sbx_command="'$sbx' run --backend container --network host --shell '$project' -- -c true"
private_command="'$sbx' run --backend container --network private --shell '$project' -- -c true"
sh -c "$nspawn_command" < /dev/null || { echo "bench: bare nspawn cannot run the same container" >&2; exit 1; }

hyperfine -N --warmup 3 --runs "$runs" --export-json "$scratch/result.json" \
    -n "sbx run --backend container" "$sbx_command" -n "systemd-nspawn" "$nspawn_command" \
    -n "sbx run --backend container --network private" "$private_command" > "$scratch/hyperfine.txt"
cat "$scratch/hyperfine.txt"

python3 bench/startup_report.py "$scratch/result.json" --unit ms \
    --title 'Container start: `sbx run --backend container --shell DIR -- -c true` vs bare systemd-nspawn' \
    --about "$(systemd-nspawn --version | head -1) (not PID 1: --keep-unit --register=no); hyperfine, \
$runs runs each after 3 warm-ups, in one run; both share the host's network. nspawn gets sbx's command \
line (user namespace, ID-mapped binds, read-only root, the capability drops, the system call filter) on \
a root directory made once, and runs \`bash -c true\` as its PID 1; sbx run also prepares the state \
directory, makes the root directory and files for the launch, starts its own init (which makes the \
sandbox's user namespace and installs the engine's seccomp filter), registers the sandbox and removes \
the directory after" \
    --sbx "sbx run --backend container" --other systemd-nspawn --label nspawn \
    --note "The last row is for information: it also starts pasta, which nspawn alone does not do." \
    >> bench/RESULTS.md
