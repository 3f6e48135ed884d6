#!/bin/sh
# The cost of starting a sandbox: `sbx run --shell <dir> -- -c true` against
# plain bwrap given the same mounts (the plan sbx would carry out, turned
# into bwrap options by bench/plan_to_bwrap.lua), measured side by side in
# the same hyperfine run. Appends the numbers and the ratio to
# bench/RESULTS.md. Usage: sh bench/run_startup.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
runs=${1:-50}
for tool in hyperfine bwrap; do
    command -v "$tool" > /dev/null || { echo "bench: $tool is not installed (make deps)" >&2; exit 1; }
done
[ -x ./sbx ] || make -s
scratch=$(mktemp -d /tmp/sbx-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home/project" "$scratch/files"
export HOME="$scratch/home"
unset XDG_STATE_HOME XDG_CONFIG_HOME DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS SSH_AUTH_SOCK
project="$scratch/home/project"
sbx="$PWD/sbx"

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

python3 - "$scratch/result.json" "$runs" >> bench/RESULTS.md <<'PY'
import json, os, platform, subprocess, sys, time
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
sbx, bwrap = results["sbx run"], results["bwrap"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
version = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
print(f"\n## Sandbox start: `sbx run --shell DIR -- -c true` vs plain bwrap, same mounts\n")
print(f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}; machine: {cpu}, {os.cpu_count()} cores, "
      f"Linux {platform.release()}; {version}; hyperfine, {sys.argv[2]} runs each after 5 warm-ups, "
      "in one run; sbx run and bwrap share the host's network, and bwrap gets no seccomp "
      "program (sbx builds and installs its own)")
print("\n| command | mean | median | stddev | min | max |\n|---|---|---|---|---|---|")
for name in ("sbx run", "bwrap", "sbx run --network private"):
    r = results[name]
    print(f"| {name} | {r['mean']*1000:.2f} ms | {r['median']*1000:.2f} ms | {r['stddev']*1000:.2f} ms | "
          f"{r['min']*1000:.2f} ms | {r['max']*1000:.2f} ms |")
print(f"\nRatio sbx / bwrap: **{sbx['median'] / bwrap['median']:.2f}x** on the medians, "
      f"{sbx['mean'] / bwrap['mean']:.2f}x on the means (goal: at most 1.25x). "
      "The last row is for information: the default network mode also starts pasta, "
      "which bwrap alone does not do.")
PY
tail -12 bench/RESULTS.md
