-- A VM plan as QEMU: the command line, and the engine sandbox QEMU itself
-- runs in (docs/plan.md), so that QEMU, which parses whatever the guest
-- sends, holds no more of the host than the guest is given:
--   * its own user, mount, PID, IPC, UTS and cgroup namespaces, and a
--     network namespace unless the network is "host" (for "private", pasta
--     is attached to it as for the engine's sandboxes, so QEMU's user
--     network reaches the internet but no host loopback service);
--   * a root of its own: /usr, the kernel, its runtime directory, and two
--     trees it exports over 9p, /export/ro (readonly=on) and /export/rw,
--     made of the plan's binds at their guest paths; a read-only bind is
--     read-only in both, so no write through either reaches it;
--   * the engine's seccomp filter and no capabilities, then QEMU's own
--     seccomp filter (-sandbox on).
-- Pure: FACTS = {runtime = host path of the runtime directory, accel =
-- "kvm"|"tcg", tsc_khz = the host's TSC rate (or nil), host = the host
-- facts (uid, gid, root_entries, nix)}.
local fs = require "sbx.fs"
local layout = require "sbx.run.layout"
local guest_config = require "sbx.vm.guest_config"

local M = {}

M.binary = "qemu-system-x86_64"
-- Where QEMU sees the runtime directory (initramfs, sockets, kernel log).
M.runtime = "/run/sbx-vm"
M.kernel = "/run/sbx-vm-boot/vmlinuz"
M.export = "/export"
-- Ports for sessions joined while the VM runs (sbx run again, --enter).
M.sessions = 4

-- Files in the runtime directory, by role.
M.files = {
  initramfs = "initramfs.cpio",
  kernel_log = "kernel.log",
  control = "control.sock",
  qmp = "qmp.sock",
}

function M.session_socket(n) return ("session%d.sock"):format(n) end

-- What QEMU's own resolver (slirp's DNS) and its loader read.
local QEMU_ETC = { "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf",
  "/etc/gai.conf", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d" }

local function export_path(tree, dest) return M.export .. "/" .. tree .. dest end

-- The plan's binds as binds into the export trees.
local function exports(m, plan)
  local writable = {}
  local function under_writable(dest)
    for _, dir in ipairs(writable) do
      if layout.under(dest, dir) then return true end
    end
    return false
  end
  for _, op in ipairs(plan.mounts) do
    local how = { try = op.try, follow = op.follow_symlinks }
    if op.op == "bind" and op.readonly then
      m.ro(op.source, export_path("ro", op.dest), how)
      if under_writable(op.dest) then m.ro(op.source, export_path("rw", op.dest), how) end
    elseif op.op == "bind" then
      m.rw(op.source, export_path("rw", op.dest), how)
      writable[#writable + 1] = op.dest
    elseif op.op == "remount-ro" and under_writable(op.dest) then
      m.op { op = "remount-ro", dest = export_path("rw", op.dest) }
    end
  end
end

-- The engine plan QEMU runs in.
function M.host_plan(plan, facts)
  local host = facts.host
  local m = layout.mount_list()
  if host.nix then m.ro("/nix/store") end
  m.ro("/usr", nil, { follow = true, try = host.nix })
  for _, entry in ipairs(host.root_entries) do
    if entry.link then m.symlink(entry.link, entry.path) else m.ro(entry.path, nil, layout.MAYBE_HOST_TREE) end
  end
  -- QEMU's own resolver asks the host's: through pasta's forwarded address
  -- when that is on the host's loopback.
  layout.bind_etc(m, QEMU_ETC, plan.network, host)
  m.op { op = "proc", dest = "/proc" }
  m.op { op = "dev", dest = "/dev" }
  if facts.accel == "kvm" then m.dev("/dev/kvm") end
  m.tmpfs("/tmp", "1777")
  m.rw(facts.runtime, M.runtime)
  if plan.vm.qmp_socket then m.rw(fs.dirname(plan.vm.qmp_socket)) end
  m.ro(plan.vm.kernel, M.kernel)
  -- Only mount points live here; what the guest writes beside them stays small.
  m.op { op = "tmpfs", dest = M.export, mode = "0755", size = "1m" }
  exports(m, plan)
  return {
    namespaces = layout.namespaces(plan.network),
    -- QEMU sees the files as the guest's user does: the caller's own
    -- (root's, for root) belong to the user inside.
    uid_map = { inside = plan.uid_map.inside, outside = plan.uid_map.outside },
    gid_map = { inside = plan.gid_map.inside, outside = plan.gid_map.outside },
    hostname = plan.hostname,
    mounts = m.list,
    env = { "PATH=/usr/bin:/bin", "HOME=" .. M.runtime },
    cwd = M.runtime,
    argv = M.argv(plan, facts),
    seccomp = layout.seccomp_for_plan(),
    limits = { core = 0 },
    -- QEMU's own messages come out here; the sessions have ports.
    terminal = "pty",
    lifetime = "entry",
    die_with_parent = plan.die_with_parent ~= false,
  }
end

local function runtime_file(name) return M.runtime .. "/" .. name end

-- Under TCG the kernel's TSC calibration against the PIT fails now and
-- then (the emulated PIT runs late), and the boot then hangs for good;
-- told the TSC's rate (the host's, which TCG's counter follows), the
-- kernel does not calibrate.
function M.tsc_option(facts)
  if facts.accel ~= "tcg" or not facts.tsc_khz then return "" end
  return (" tsc_early_khz=%d"):format(facts.tsc_khz)
end

-- Where QEMU's monitor listens: the manager's socket (its directory is
-- bound at the same path, so that screen dumps land where the manager
-- reads them), or one in the runtime directory.
function M.qmp_socket(plan)
  return plan.vm.qmp_socket or runtime_file(M.files.qmp)
end

-- QEMU's argument vector.
function M.argv(plan, facts)
  local vm = plan.vm
  local argv = {
    M.binary, "-name", plan.hostname,
    "-M", "microvm,accel=" .. facts.accel,
    "-cpu", facts.accel == "kvm" and "host" or "max",
    "-m", tostring(vm.memory_mb), "-smp", tostring(vm.cpus),
    "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
    "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    -- virtio 1.0 over MMIO: virtio-gpu speaks nothing older.
    "-global", "virtio-mmio.force-legacy=false",
    "-kernel", M.kernel, "-initrd", runtime_file(M.files.initramfs),
    "-append", "console=ttyS0 quiet panic=-1" .. M.tsc_option(facts),
    "-serial", "file:" .. runtime_file(M.files.kernel_log),
    "-device", "virtio-serial-device,max_ports=" .. (M.sessions + 2),
    "-chardev", "socket,id=control,path=" .. runtime_file(M.files.control) .. ",server=on,wait=off",
    "-device", "virtserialport,chardev=control,name=sbx.control",
  }
  local function add(...)
    for _, word in ipairs { ... } do argv[#argv + 1] = word end
  end
  for n = 1, M.sessions do
    add("-chardev", ("socket,id=session%d,path=%s,server=on,wait=off"):format(n, runtime_file(M.session_socket(n))),
      "-device", ("virtserialport,chardev=session%d,name=sbx.session.%d"):format(n, n))
  end
  for _, share in ipairs(guest_config.shares) do
    add("-fsdev", ("local,id=%s,path=%s/%s,security_model=none,multidevs=remap%s"):format(
      share.tag, M.export, share.tag, share.readonly and ",readonly=on" or ""),
      "-device", ("virtio-9p-device,fsdev=%s,mount_tag=%s"):format(share.tag, share.tag))
  end
  add("-device", "virtio-rng-device", "-device", "virtio-gpu-device",
    "-qmp", "unix:" .. M.qmp_socket(plan) .. ",server=on,wait=off")
  if plan.network ~= "none" then
    add("-netdev", "user,id=net0", "-device", "virtio-net-device,netdev=net0")
  end
  return argv
end

-- The kernel modules the guest loads (lua/sbx/vm/modules.lua orders them).
function M.guest_modules(plan)
  local list = { "virtio_mmio", "virtio_console", "9pnet_virtio", "9p", "virtio_rng", "virtio_gpu" }
  if plan.network ~= "none" then list[#list + 1] = "virtio_net" end
  return list
end

return M
