-- Carrying out a vm plan (backends/vm.lua, docs/vm.md): the initramfs, QEMU
-- in an engine sandbox of its own (lua/sbx/vm/qemu.lua), the network, the
-- registry, then the main session over the control port until it ends and
-- the guest powers off. A second `sbx run` (or --enter) on the project
-- joins through one of the session ports; --stop ends QEMU's sandbox as it
-- ends the engine's own (lua/sbx/run/launch.lua).
local async = require "sbx.async"
local engine_launch = require "sbx.run.launch"
local fs = require "sbx.fs"
local image = require "sbx.vm.image"
local kvm = require "sbx.vm.kvm"
local network = require "sbx.run.network"
local paths = require "sbx.paths"
local pidfd = require "sbx.pidfd"
local qemu = require "sbx.vm.qemu"
local registry = require "sbx.run.registry"
local relay = require "sbx.run.relay"
local runtime = require "sbx.vm.runtime"
local session = require "sbx.vm.session"
local state = require "sbx.run.state"
local uv = require "luv"

local M = {}

-- After the guest was asked to end (a signal passed on), how long before
-- QEMU is ended instead; and how long a guest that reported its end may
-- take to power off.
M.STOP_GRACE_MS = 3000
-- The kernel log's last lines shown when a VM fails.
local LOG_LINES = 15

local function sandbox() return require "sbx.sandbox" end
local wait_ended, warn = engine_launch.wait_ended, engine_launch.warn

-- --stop ends every sandbox of the project, VMs included.
M.stop = engine_launch.stop

local function end_box(box)
  if not wait_ended(box, M.STOP_GRACE_MS) then
    box:signal("kill")
    wait_ended(box, 10 * M.STOP_GRACE_MS)
  end
end

-- QEMU's own messages (it has no terminal of ours), line by line to
-- stderr; but "terminating on signal N", which is an --stop (or a signal
-- passed on) and is kept as how the VM ended.
local function drain_messages(box)
  local seen = {}
  local poll = uv.new_poll(box.pty)
  seen.poll = poll
  poll:start("r", function()
    local data = uv.fs_read(box.pty, 65536, -1)
    if not data or #data == 0 then
      poll:stop()
      return
    end
    for line in data:gsub("\r\n", "\n"):gmatch("[^\n]+") do
      local signal = line:match("terminating on signal (%d+)")
      if signal then seen.signal = math.tointeger(tonumber(signal))
      else io.stderr:write("qemu: ", line, "\n") end
    end
  end)
  return seen
end

local function kernel_log_tail(dir)
  local text = fs.read(dir .. "/" .. qemu.files.kernel_log) or ""
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = "  " .. line end
  return table.concat(lines, "\n", math.max(1, #lines - LOG_LINES + 1))
end

local function say_accelerator(accel, why)
  if accel == "kvm" then
    io.stderr:write("sbx run: the VM runs under KVM\n")
  else
    io.stderr:write("sbx run: the VM runs under software emulation (TCG), which is slow: ", why, "\n")
  end
end

-- Everything up to a running QEMU: a table {box, dir, plan}, or nil and a
-- message. What is to be undone afterwards is added to UNDO.
local function start_vm(request, host, make_plan, undo)
  local ok, err = state.prepare(request, host)
  if not ok then return nil, err end
  local plan
  plan, err = make_plan(request)
  if not plan then return nil, err end
  if not plan.vm.kernel then return nil, "the vm backend cannot boot: " .. tostring(plan.vm.kernel_error) end
  if plan.vm.qmp_socket then
    ok, err = runtime.check_qmp_socket(plan.vm.qmp_socket, host.uid)
    if not ok then return nil, err end
  end
  local binary = paths.which(qemu.binary)
  if not binary then return nil, "QEMU is not installed (apt-get install qemu-system-x86)" end
  local accel, why = kvm.choose(plan.vm.accel, binary, plan.vm.kernel)
  if not accel then return nil, why end
  say_accelerator(accel, why)
  local in_use = {}
  for _, entry in ipairs(registry.list(request.project.id)) do
    if entry.runtime then in_use[entry.runtime] = true end
  end
  runtime.collect(request.project, in_use)
  local dir
  dir, err = runtime.make(request.project)
  if not dir then return nil, "cannot make the VM's runtime directory: " .. err end
  undo[#undo + 1] = function() runtime.remove(dir) end
  local archive
  archive, err = image.build(plan)
  if not archive then return nil, err end
  ok, err = fs.write_atomic(dir .. "/" .. qemu.files.initramfs, archive, tonumber("600", 8), { durable = false })
  if not ok then return nil, "cannot write the initramfs: " .. err end
  local box, spawn_err = sandbox().spawn(qemu.host_plan(plan,
    { runtime = dir, accel = accel, tsc_khz = kvm.tsc_khz(), host = host }))
  if not box then return nil, "cannot create QEMU's sandbox: " .. spawn_err end
  undo[#undo + 1] = function()
    if not box:reap() then box:signal("kill"); wait_ended(box, 10 * M.STOP_GRACE_MS) end
    box:close()
  end
  if plan.network == "private" then
    ok, err = network.attach(box.pid)
    if not ok then return nil, err .. " (--network host or none work without it)" end
  end
  local start_time = pidfd.start_time(box.pid)
  ok, err = box:start()
  if not ok then return nil, "cannot create QEMU's sandbox: " .. err end
  local file, register_err = registry.register(request, box, start_time, { runtime = dir })
  if file then
    undo[#undo + 1] = function() registry.unregister(file) end
  else
    warn("cannot register the VM, so it cannot be joined: " .. register_err)
  end
  if plan.vm.qmp_socket then undo[#undo + 1] = function() uv.fs_unlink(plan.vm.qmp_socket) end end
  local messages = drain_messages(box)
  undo[#undo + 1] = function() if not messages.poll:is_closing() then messages.poll:close() end end
  return { box = box, dir = dir, plan = plan, messages = messages }
end

-- After the main session ended with its processes going on (tmux): this
-- command waits for them, as QEMU lives as long as it does.
local function wait_detached(vm, request)
  io.stderr:write(("\nsbx run: detached; the VM goes on while this command waits. `sbx run --tmux "
    .. "--backend vm %s` attaches again; Ctrl-C here or `sbx run --stop %s` ends it.\n"):format(
      request.project.path, request.project.path))
  local signals = {}
  for signal in pairs(relay.forwarded) do
    local handle = uv.new_signal()
    handle:start(signal, function() vm.box:signal("term") end)
    signals[#signals + 1] = handle
  end
  while not vm.box:reap() do async.sleep(200) end
  for _, handle in ipairs(signals) do handle:close() end
  return 0
end

local function launch(request, host, make_plan)
  local undo = {}
  local function cleanup()
    for i = #undo, 1, -1 do undo[i]() end
  end
  local vm, err = start_vm(request, host, make_plan, undo)
  if not vm then cleanup(); return nil, err, 1 end
  local function alive() return vm.box:reap() == nil end
  local control
  control, err = session.connect(vm.dir, qemu.files.control, alive)
  local status
  if control then
    local grace
    status, err = session.run(control, session.start_for(vm.plan), { main = true, on_signal = function()
      -- Passed on to the guest's session; QEMU itself ends if that does not.
      grace = grace or uv.new_timer()
      grace:start(M.STOP_GRACE_MS, 0, function() vm.box:signal("term") end)
    end })
    if grace then grace:close() end
  end
  if status and status.detached then status = { code = wait_detached(vm, request) } end
  end_box(vm.box)
  if not status and vm.messages.signal then status = { signal = vm.messages.signal } end
  if not status then
    local tail = kernel_log_tail(vm.dir)
    cleanup()
    return nil, err .. (tail ~= "" and ("; the VM's kernel log ends with:\n" .. tail) or ""), 1
  end
  cleanup()
  return relay.exit_code(status)
end

-- A free session port of the VM in DIR, claimed by a lock file holding our
-- identity (a lock whose holder has ended is taken over). Its number and
-- the lock's path, or nil and a message.
local function claim_session(dir)
  local me = math.tointeger(uv.os_getpid())
  local identity = ("%d %d\n"):format(me, pidfd.start_time(me))
  for n = 1, qemu.sessions do
    local lock = ("%s/session%d.lock"):format(dir, n)
    for _ = 1, 2 do
      local fd = uv.fs_open(lock, "wx", tonumber("600", 8))
      if fd then
        uv.fs_write(fd, identity, 0)
        uv.fs_close(fd)
        return n, lock
      end
      local pid, start = (fs.read(lock) or ""):match("^(%d+) (%d+)")
      pid, start = math.tointeger(tonumber(pid)), math.tointeger(tonumber(start))
      if pid and pidfd.start_time(pid) == start then break end
      uv.fs_unlink(lock)
    end
  end
  return nil, ("all %d of the VM's session ports are in use"):format(qemu.sessions)
end

local function join(entry, request, make_plan)
  engine_launch.joining(entry, request)
  if not runtime.belongs(entry.runtime, request.project) then
    return nil, "the running VM's registration names no runtime directory of this project", 1
  end
  local plan, err = make_plan(request)
  if not plan then return nil, err, 1 end
  local n, lock = claim_session(entry.runtime)
  if not n then return nil, "cannot join the running VM: " .. lock, 1 end
  local pipe
  pipe, err = session.connect(entry.runtime, qemu.session_socket(n), function() return registry.alive(entry) end)
  local status
  if pipe then status, err = session.run(pipe, session.start_for(plan)) end
  uv.fs_unlink(lock)
  if not status then return nil, "the session in the running VM failed: " .. err, 1 end
  return relay.exit_code(status)
end

-- Runs REQUEST; MAKE_PLAN(request) gives its plan. Returns the exit code,
-- or nil, a message and an exit code.
function M.run(request, host, make_plan)
  return async.run(function()
    if request.action ~= "new" then
      local running, err = registry.to_join(request, "vm")
      if running then return join(running, request, make_plan) end
      if err then return nil, err, 1 end
    end
    return launch(request, host, make_plan)
  end)
end

return M
