-- The D-Bus session bus reaches a sandbox only through xdg-dbus-proxy,
-- filtered to the Secret Service (so git credential helpers and keyrings
-- work, and nothing else on the bus is visible).
local paths = require "sbx.paths"
local uv = require "luv"

local M = {}

M.talk = { "org.freedesktop.secrets" }

-- sockaddr_un's sun_path holds 108 bytes with the terminating zero.
local MAX_SOCKET_PATH = 107

-- Where the proxy listens for PROJECT: its state directory, which the
-- sandbox cannot write. Nil when there is no session bus, no proxy, the
-- path is too long for a socket, or the caller is root: root's sandbox
-- runs as another uid inside, which the bus's EXTERNAL authentication
-- (the uid the client names must be the connection's) cannot pass.
function M.socket_for(project, host)
  if host.uid == 0 then return nil end
  local address = host.env.DBUS_SESSION_BUS_ADDRESS
  if not address or address == "" or not paths.which("xdg-dbus-proxy") then return nil end
  local socket = project.state .. "/bus"
  if #socket > MAX_SOCKET_PATH then return nil end
  return socket
end

-- Starts the proxy from ADDRESS to SOCKET and waits until it listens.
-- Returns a handle whose close() stops it and whose hand_over(pid,
-- start_time) leaves it to live as long as that process (a detached
-- sandbox's init) instead; or nil and a message. Waits.
function M.start(address, socket)
  local async = require "sbx.async"
  local co = async.current()
  uv.fs_unlink(socket) -- a stale socket from a session that died
  local sync = uv.new_pipe(false)
  local argv = { address, socket, "--filter" }
  for _, name in ipairs(M.talk) do argv[#argv + 1] = "--talk=" .. name end
  argv[#argv + 1] = "--fd=3"
  local exited
  -- A session of its own: a hangup of our terminal is not its end.
  local handle, pid = uv.spawn(paths.which("xdg-dbus-proxy"), {
    args = argv, stdio = { nil, nil, 2, sync }, detached = true,
  }, function(code)
    exited = code
  end)
  if not handle then
    sync:close()
    return nil, "cannot start xdg-dbus-proxy: " .. tostring(pid)
  end
  local ready = false
  sync:read_start(function(_, data)
    if not ready then
      ready = data ~= nil
      sync:read_stop()
      coroutine.resume(co)
    end
  end)
  coroutine.yield()
  local proxy = {}
  function proxy.close()
    if not sync:is_closing() then sync:close() end
    if not handle:is_closing() then
      if exited == nil then handle:kill("sigterm") end
      handle:close()
    end
  end
  -- The proxy runs while the other end of its --fd pipe is open: a
  -- watcher holds a copy of ours until the sandbox ends, then ends it.
  function proxy.hand_over(sandbox_pid, sandbox_start)
    local pidfd = require "sbx.pidfd"
    local proxy_start = exited == nil and pidfd.start_time(pid)
    if not proxy_start then
      proxy.close()
      return nil, "the session bus proxy has ended"
    end
    local ok, err = pidfd.end_with(sandbox_pid, sandbox_start, pid, proxy_start, sync:fileno())
    if not ok then
      proxy.close()
      return nil, "the session bus proxy ends with this command: " .. err
    end
    sync:close()
    handle:close()
    return true
  end
  if not ready then
    proxy.close()
    return nil, "xdg-dbus-proxy stopped before it was ready"
  end
  return proxy
end

return M
