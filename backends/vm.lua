-- The vm backend: the sandbox that lua/sbx/run/layout.lua describes, as a
-- guest with a kernel of its own. Its mounts are the guest's view: each
-- bind is a host path shared over 9p (read-only ones read-only on the
-- host's side too), everything else is made inside. `vm` says what QEMU
-- boots. lua/sbx/vm/launch.lua carries it out (docs/vm.md). Pure.
--
-- What a VM does not get that the engine's sandboxes do: the host's
-- display, sound, GPU, buses and SSH agent (it has a screen of its own,
-- which QMP's screendump reads).
local layout = require "sbx.run.layout"

local M = {}

M.launcher = "sbx.vm.launch"
-- A further session enters a running VM through its session ports, not
-- through the engine's namespaces.
M.joined_through = "vm"

-- QEMU's user network answers DNS here; the host's resolver (often on its
-- own loopback) is not the guest's.
M.guest_resolv_conf = "nameserver 10.0.2.3\n"

-- The guest's own version of a bind the host made for the engine, or nil
-- to leave it out.
local function for_guest(op, request)
  if op.dest == "/etc/resolv.conf" then
    if request.network == "none" then return nil end
    return { op = "file", dest = op.dest, contents = M.guest_resolv_conf, mode = "0644", readonly = true }
  end
  -- tmux's socket lives in the guest's kernel: a 9p file could not be one.
  if op.op == "bind" and op.dest == layout.tmux_dir then
    return { op = "dir", dest = op.dest, mode = "0700" }
  end
  return op
end

function M.plan(request, spec, host)
  local plan = layout.plan(request, spec, host, "vm", { no_desktop = true })
  local mounts = {}
  for _, op in ipairs(plan.mounts) do mounts[#mounts + 1] = for_guest(op, request) end
  plan.mounts = mounts
  -- The guest's kernel is the boundary; QEMU's own sandbox gets the
  -- engine's namespaces and filter (lua/sbx/vm/qemu.lua).
  plan.namespaces, plan.seccomp, plan.limits = nil, nil, nil
  -- A detached tmux session goes on in the VM while the sbx run that
  -- started it waits: QEMU ends with that sbx run.
  plan.die_with_parent = true
  local kernel = host.guest_kernel or { error = "no guest kernel was looked for" }
  plan.vm = {
    kernel = kernel.kernel,
    modules = kernel.modules,
    release = kernel.release,
    kernel_error = kernel.error,
    memory_mb = spec.vm.memory_mb,
    cpus = spec.vm.cpus,
    accel = spec.vm.accel,
    -- The manager's (docs/web.md); otherwise the VM's runtime directory.
    qmp_socket = host.env.SBX_QMP_SOCKET ~= "" and host.env.SBX_QMP_SOCKET or nil,
  }
  return plan
end

return M
