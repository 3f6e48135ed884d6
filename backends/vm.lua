-- The vm backend: the request, spec and host facts the bubblewrap backend
-- gets, and the same contents (lua/sbx/run/contents.lua), as a plan for a
-- guest with a kernel of its own. Its mounts are the guest's view: each
-- bind is a host path shared over 9p (read-only ones read-only on the
-- host's side too), everything else is made inside. `vm` says what QEMU
-- boots. lua/sbx/vm/launch.lua carries it out (docs/vm.md). Pure.
--
-- What a VM does not get that the engine's sandboxes do: the host's
-- display, sound, GPU, buses and SSH agent (it has a screen of its own,
-- which QMP's screendump reads).
local contents = require "sbx.run.contents"

local M = {}

M.launcher = "sbx.vm.launch"

-- QEMU's user network answers DNS here; the host's resolver (often on its
-- own loopback) is not the guest's.
M.guest_resolv_conf = "nameserver 10.0.2.3\n"

-- The guest's own version of a bind the host made for the engine, or nil
-- to leave it out.
local function for_guest(op, request)
  if op.op == "bind" and op.dest == "/etc/resolv.conf" then
    if request.network == "none" then return nil end
    return { op = "file", dest = op.dest, contents = M.guest_resolv_conf, mode = "0644", readonly = true }
  end
  -- tmux's socket lives in the guest's kernel: a 9p file could not be one.
  if op.op == "bind" and op.dest == contents.tmux_dir then
    return { op = "dir", dest = op.dest, mode = "0700" }
  end
  return op
end

function M.plan(request, spec, host)
  local m = contents.mount_list()
  local env = contents.env_for(request, spec, host, "vm")
  contents.system(m, spec, host)
  contents.home(m, request, host)
  contents.chromium(m, spec, host)
  local argv = contents.entry(m, request, spec, host)
  m.rw(request.project.path)
  local mounts = {}
  for _, op in ipairs(m.list) do mounts[#mounts + 1] = for_guest(op, request) end

  local uid, gid = contents.inside_ids(host)
  local kernel = host.guest_kernel or { error = "no guest kernel was looked for" }
  local detached_tmux = request.tmux and not request.join
  return {
    backend = "vm",
    uid_map = { inside = uid, outside = host.uid },
    gid_map = { inside = gid, outside = host.gid },
    hostname = ("sbx-" .. request.project.name):sub(1, 63),
    mounts = mounts,
    env = env.list(),
    cwd = request.project.path,
    argv = argv,
    terminal = request.terminal,
    -- A tmux server outlives its client: the VM goes on after a detach,
    -- while the sbx run that started it waits (QEMU ends with it).
    lifetime = detached_tmux and "all" or "entry",
    die_with_parent = true,
    network = request.network,
    vm = {
      kernel = kernel.kernel,
      modules = kernel.modules,
      release = kernel.release,
      kernel_error = kernel.error,
      memory_mb = spec.vm.memory_mb,
      cpus = spec.vm.cpus,
      accel = spec.vm.accel,
      -- The manager's (docs/web.md); otherwise the VM's runtime directory.
      qmp_socket = host.env.SBX_QMP_SOCKET ~= "" and host.env.SBX_QMP_SOCKET or nil,
    },
  }
end

return M
