-- Carrying out `sbx run`: join the project's running sandbox, or make a new
-- one (state, D-Bus proxy, spawn, network, start, register), relay its
-- terminal, and clean up after it.
local async = require "sbx.async"
local dbus = require "sbx.run.dbus"
local network = require "sbx.run.network"
local registry = require "sbx.run.registry"
local relay = require "sbx.run.relay"
local state = require "sbx.run.state"

local M = {}

-- How long --stop waits for processes to end on SIGTERM before SIGKILL.
M.STOP_GRACE_MS = 3000
local POLL_MS = 50

local function sandbox() return require "sbx.sandbox" end

local function warn(message) io.stderr:write("sbx run: warning: ", message, "\n") end
M.warn = warn

-- A process made by PLAN inside the running sandbox ENTRY, started; or nil
-- and a message.
local function enter(entry, plan)
  local box, err = sandbox().enter(entry.pid, entry.start_time, plan)
  if not box then return nil, err end
  local started, start_err = box:start()
  if not started then
    box:close()
    return nil, start_err
  end
  return box
end

-- Waits until BOX has ended, at most MS milliseconds. Waits.
function M.wait_ended(box, ms)
  for _ = 0, ms, POLL_MS do
    if box:reap() then return true end
    async.sleep(POLL_MS)
  end
  return box:reap() ~= nil
end

-- Ends the sandbox of ENTRY: SIGTERM to its init, which passes it on, then
-- SIGKILL if it has not ended; once init is gone the kernel ends whatever
-- else was in its PID namespace. The engine opens init by pid and start
-- time, so a reused pid is never signalled.
function M.stop_entry(entry)
  local box, err = sandbox().open(entry.pid, entry.start_time)
  if not box then return nil, err end
  local ended = false
  for _, step in ipairs { { "term", M.STOP_GRACE_MS }, { "kill", 10 * M.STOP_GRACE_MS } } do
    box:signal(step[1])
    ended = M.wait_ended(box, step[2])
    if ended then break end
  end
  box:close()
  if not ended then return nil, ("the sandbox with init pid %d did not end"):format(entry.pid) end
  registry.unregister(entry.file)
  return true
end

-- What ENTRY's backend does once its sandbox has ended (the container
-- backend's clean-up), whichever backend the --stop named.
local function after_stop(entry)
  local backend = entry.backend and require("sbx.run.request").backend_module(entry.backend)
  local launcher = backend and require(backend.launcher)
  if launcher and launcher.after_stop then launcher.after_stop(entry) end
end

-- Stops the sandboxes of REQUEST's project. Waits.
function M.stop(request)
  return async.run(function()
    local entries, problems = registry.list(request.project.id)
    for _, problem in ipairs(problems) do warn(problem) end
    if #entries == 0 then
      return nil, ("no sandbox is running for %s"):format(request.project.path), 1
    end
    for _, entry in ipairs(entries) do
      local ok, err = M.stop_entry(entry)
      if not ok then return nil, err, 1 end
      after_stop(entry)
      io.stderr:write(("sbx run: stopped the sandbox of %s (init pid %d)\n"):format(entry.project, entry.pid))
    end
    return 0
  end)
end

-- Marks REQUEST as joining ENTRY, saying so when it asked for another
-- network.
function M.joining(entry, request)
  request.join = true
  if request.network_given and entry.network ~= request.network then
    warn(("joining the sandbox already running for this project, whose network is %s; "
      .. "--new starts another with %s"):format(entry.network, request.network))
  end
end

-- Runs REQUEST's entry in the running sandbox ENTRY (a registry entry)
-- and relays it. Returns the exit code, or nil, a message and 1. Waits.
function M.join(entry, request, make_plan)
  M.joining(entry, request)
  local plan, err = make_plan(request)
  if not plan then return nil, err, 1 end
  local box, enter_err = enter(entry, plan)
  if not box then return nil, "cannot join the running sandbox: " .. enter_err, 1 end
  local status = relay.wait(box)
  box:close()
  return relay.exit_code(status)
end

function M.say_detached(request)
  io.stderr:write(("\nsbx run: detached; the sandbox goes on. `sbx run --tmux %s` attaches "
    .. "again, `sbx run --stop %s` ends it.\n"):format(request.project.path, request.project.path))
end

local function kill_unstarted(box)
  box:signal("kill")
  while not box:reap() do async.sleep(10) end
  box:close()
end

local function launch(request, host, make_plan)
  local ok, err = state.prepare(request, host)
  if not ok then return nil, err, 1 end
  local proxy
  if request.dbus_proxy then
    proxy, err = dbus.start(host.env.DBUS_SESSION_BUS_ADDRESS, request.dbus_proxy)
    if not proxy then
      warn(err .. "; the session bus is not forwarded")
      request.dbus_proxy = nil
    end
  end
  local function cleanup() if proxy then proxy.close() end end
  local plan
  plan, err = make_plan(request)
  if not plan then cleanup(); return nil, err, 1 end
  local box, spawn_err = sandbox().spawn(plan)
  if not box then cleanup(); return nil, "cannot create the sandbox: " .. spawn_err, 1 end
  if request.network == "private" then
    ok, err = network.attach(box.pid)
    if not ok then
      kill_unstarted(box)
      cleanup()
      return nil, err .. " (--network host or none work without it)", 1
    end
  end
  local init_pid, start_time = box.pid, require("sbx.pidfd").start_time(box.pid)
  local started, start_err = box:start()
  if not started then
    box:close()
    cleanup()
    return nil, "cannot create the sandbox: " .. start_err, 1
  end
  local file, register_err = registry.register(request, box, start_time)
  if not file then warn("cannot register the sandbox, so it cannot be joined: " .. register_err) end
  local status = relay.wait(box, { on_hangup = plan.lifetime == "all" and function()
    M.say_detached(request)
    return "detach"
  end or nil })
  box:close()
  -- Detached: the sandbox and its registration stay, and its D-Bus proxy
  -- with them, until the sandbox ends.
  if status.detached then
    if proxy then
      local handed, hand_err = proxy.hand_over(init_pid, start_time)
      if not handed then warn(hand_err) end
    end
    return 0
  end
  if file then registry.unregister(file) end
  cleanup()
  return relay.exit_code(status)
end

-- Runs REQUEST; MAKE_PLAN(request) gives its plan. A new sandbox is made
-- by START(request, host, make_plan) (a backend's own; the engine's by
-- default), a running one joined. Returns the exit code, or nil, a message
-- and an exit code.
function M.run(request, host, make_plan, start)
  return async.run(function()
    if request.action ~= "new" then
      local running, err = registry.to_join(request, "engine")
      if running then return M.join(running, request, make_plan) end
      if err then return nil, err, 1 end
    end
    return (start or launch)(request, host, make_plan)
  end)
end

return M
