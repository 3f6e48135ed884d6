#!/bin/sh
# The cost of a VM sandbox: `sbx run --backend vm --shell <dir> -- -c true`
# (boot, the sandbox's shares and session, power-off) against bare QEMU
# booting the same kernel with the same machine, accelerator, memory and
# CPUs into a busybox initramfs whose /init powers off at once: the least a
# user who boots a VM by hand waits for. Side by side in one hyperfine run;
# appends the numbers and the ratio to bench/RESULTS.md.
# Usage: sh bench/vm_startup.sh [RUNS]
set -eu
cd "$(dirname "$0")/.."
runs=${1:-5}
. bench/startup_env.sh
bench_needs hyperfine qemu-system-x86_64 cpio
[ -x /bin/busybox ] || { echo "bench: busybox-static is not installed (make deps)" >&2; exit 1; }

# What sbx boots, and how: the kernel, the accelerator it picks here (one
# real launch also makes the state directory), the spec's size.
"$sbx" run --backend vm --network none --shell "$project" -- -c true 2> "$scratch/first.err" ||
    { cat "$scratch/first.err" >&2; exit 1; }
accel=$(sed -n 's/.*runs under software emulation (TCG).*/tcg/p' "$scratch/first.err" | head -1)
accel=${accel:-kvm}
cat > "$scratch/facts.lua" <<'LUA'
local plan = require("cjson").decode(io.read("a"))
print(plan.vm.kernel, math.tointeger(plan.vm.memory_mb), math.tointeger(plan.vm.cpus),
  require("sbx.vm.kvm").tsc_khz() or "")
LUA
"$sbx" run --backend vm --dry-run --network none --shell "$project" -- -c true |
    "$sbx" lua "$scratch/facts.lua" > "$scratch/facts"
read -r kernel memory cpus tsc_khz < "$scratch/facts"

# The bare guest: busybox as /init, which powers off.
mkdir -p "$scratch/initramfs/bin"
cp /bin/busybox "$scratch/initramfs/bin/busybox"
ln -s busybox "$scratch/initramfs/bin/sh"
printf '#!/bin/sh\nexec /bin/busybox poweroff -f\n' > "$scratch/initramfs/init"
chmod 755 "$scratch/initramfs/init"
(cd "$scratch/initramfs" && find . | cpio -o -H newc --quiet > "$scratch/initramfs.cpio")
append="console=ttyS0 quiet panic=-1"
[ "$accel" = tcg ] && [ -n "$tsc_khz" ] && append="$append tsc_early_khz=$tsc_khz"
qemu_command="qemu-system-x86_64 -M microvm,accel=$accel -cpu $([ "$accel" = kvm ] && echo host || echo max)"
qemu_command="$qemu_command -m $memory -smp $cpus -nodefaults -no-user-config -display none -no-reboot"
qemu_command="$qemu_command -kernel $kernel -initrd $scratch/initramfs.cpio -append '$append'"
qemu_command="$qemu_command -serial file:$scratch/serial.log"
sh -c "$qemu_command" < /dev/null || { echo "bench: bare QEMU cannot boot the kernel" >&2; exit 1; }

sbx_command="'$sbx' run --backend vm --network none --shell '$project' -- -c true"
hyperfine -N --warmup 1 --runs "$runs" --export-json "$scratch/result.json" \
    -n "sbx run --backend vm" "$sbx_command" -n "bare QEMU" "$qemu_command" > "$scratch/hyperfine.txt"
cat "$scratch/hyperfine.txt"

python3 bench/startup_report.py "$scratch/result.json" --unit s \
    --title 'VM start: `sbx run --backend vm --shell DIR -- -c true` vs bare QEMU' \
    --about "$(qemu-system-x86_64 --version | head -1); accelerator $accel; kernel $kernel; hyperfine, \
$runs runs each after a warm-up, in one run; no network for either. Bare QEMU boots the same kernel on \
the same machine type with the same memory and CPUs into a busybox initramfs whose /init powers off at \
once; sbx run also builds the initramfs (its agent, the virtio modules, the plan), runs QEMU in an \
engine sandbox, mounts the 9p shares and the sandbox's file systems in the guest, runs \`bash -c true\` \
as the sandbox's user through the session port and waits for the power-off" \
    --sbx "sbx run --backend vm" --other "bare QEMU" --label "bare QEMU" >> bench/RESULTS.md
