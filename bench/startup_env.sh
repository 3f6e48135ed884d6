# Sourced by the start-up benchmarks (bench/*_startup.sh) from the
# repository's root, after `set -eu`:
#   bench_needs TOOL...   exits saying which is missing (make deps)
# and, once sourced: ./sbx built, $sbx, and $scratch (removed at exit)
# holding a HOME of its own with an empty $project, with none of the
# caller's display, bus or agent variables.
bench_needs() {
    for tool; do
        command -v "$tool" > /dev/null || { echo "bench: $tool is not installed (make deps)" >&2; exit 1; }
    done
}
[ -x ./sbx ] || make -s
sbx="$PWD/sbx"
scratch=$(mktemp -d /tmp/sbx-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home/project"
export HOME="$scratch/home"
unset XDG_STATE_HOME XDG_CONFIG_HOME DISPLAY WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS SSH_AUTH_SOCK
project="$scratch/home/project"
