#!/bin/sh
# The cost of starting a sandbox: `sbx run --shell <dir> -- -c true` against
# plain bwrap given the same mounts (the plan sbx would carry out, turned
# into bwrap options by bench/plan_to_bwrap.lua), measured side by side in
# the same hyperfine run. Appends the numbers and the ratio to
# bench/RESULTS.md. Usage: sh bench/run_startup.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
runs=${1:-50}
. bench/startup_env.sh
bench_needs hyperfine bwrap
mkdir -p "$scratch/files"

# Both without a network namespace of their own: attaching pasta is a
# separate cost that bwrap alone does not pay either.
"$sbx" run --dry-run --network host --shell "$project" -- -c true > "$scratch/plan.json"
# The state directory and ~/.claude parts the plan binds must exist for
# bwrap too: one real launch makes them.
"$sbx" run --network host --shell "$project" -- -c true
"$sbx" lua bench/plan_to_bwrap.lua "$scratch/plan.json" "$scratch/files" > "$scratch/bwrap.args"
quote() { sed "s/'/'\\\\''/g; s/^/'/; s/\$/'/" "$1" | tr '\n' ' '; }
bwrap_command="bwrap $(quote "$scratch/bwrap.args")"
sbx_command="'$sbx' run --network host --shell '$project' -- -c true"
private_command="'$sbx' run --network private --shell '$project' -- -c true"
sh -c "$bwrap_command" || { echo "bench: bwrap cannot run the same sandbox" >&2; exit 1; }

hyperfine -N --warmup 5 --runs "$runs" --export-json "$scratch/result.json" \
    -n "sbx run" "$sbx_command" -n "bwrap" "$bwrap_command" \
    -n "sbx run --network private" "$private_command" > "$scratch/hyperfine.txt"
cat "$scratch/hyperfine.txt"

python3 bench/startup_report.py "$scratch/result.json" --unit ms \
    --title 'Sandbox start: `sbx run --shell DIR -- -c true` vs plain bwrap, same mounts' \
    --about "$(bwrap --version); hyperfine, $runs runs each after 5 warm-ups, in one run; sbx run and bwrap \
share the host's network, and bwrap gets no seccomp program (sbx builds and installs its own)" \
    --sbx "sbx run" --other bwrap --label bwrap \
    --note "Goal: at most 1.25x. The last row is for information: the default network mode also starts \
pasta, which bwrap alone does not do." >> bench/RESULTS.md
