-- X displays for sandboxes: finding one that is really free, starting Xvfb
-- on it with its screen kept in a file (-fbdir, for fast screenshots) and a
-- cookie of its own, and waiting until it accepts connections.
local async = require "sbx.async"
local fs = require "sbx.fs"
local log = require "sbx.log"
local process = require "sbx.manager.process"
local proc = require "sbx.proc"
local uv = require "luv"
local xauth = require "sbx.xauth"

local M = {}

M.first = 50
M.last = 1000
M.screen = "1920x1080x24"
M.socket_dir = "/tmp/.X11-unix"

function M.socket_path(n) return ("%s/X%d"):format(M.socket_dir, n) end

-- Connects to the Unix socket PATH; true when something accepts.
local function accepts(path)
  local co = async.current()
  local pipe = uv.new_pipe(false)
  local connected
  local timer = uv.new_timer()
  local function done(result)
    if connected ~= nil then return end
    connected = result
    timer:stop()
    coroutine.resume(co)
  end
  pipe:connect(path, function(err) done(err == nil) end)
  timer:start(1000, 0, function() done(false) end)
  if connected == nil then coroutine.yield() end
  timer:close()
  pipe:close()
  return connected
end

-- Lines of /proc/net/unix naming an abstract socket "@<path>".
local function abstract_listener(path)
  local text = fs.read("/proc/net/unix") or ""
  return text:find(" @" .. path:gsub("%p", "%%%0") .. "\n", 1) ~= nil
end

-- Whether a TCP socket listens on PORT (X's 6000 + n), on any address.
local function tcp_listener(port)
  local hex = (":%04X "):format(port)
  for _, file in ipairs { "/proc/net/tcp", "/proc/net/tcp6" } do
    for line in (fs.read(file) or ""):gmatch("[^\n]+") do
      local here, state = line:match("^%s*%d+:%s+%S+(:%x+ )%S+%s+(%x%x)")
      if here == hex and state == "0A" then return true end
    end
  end
  return false
end

-- true, or false and why display N is taken. Not only the lock file: a
-- stale lock is ignored by Xvfb, while a server may listen without one
-- (abstract socket, TCP), or hold the socket file after losing its lock.
function M.is_free(n)
  local lock = fs.read(("/tmp/.X%d-lock"):format(n))
  local lock_pid = lock and tonumber(lock:match("%d+"))
  if lock_pid and proc.stat(lock_pid) then return false, "locked by a running process" end
  local socket = M.socket_path(n)
  if uv.fs_stat(socket) and accepts(socket) then return false, "its socket accepts connections" end
  if abstract_listener(socket) then return false, "an abstract socket is bound" end
  if tcp_listener(6000 + n) then return false, "TCP port " .. (6000 + n) .. " listens" end
  return true
end

-- The Xauthority file of the display whose screen is in FB_DIR: Xvfb
-- admits only clients that show its cookie (any local user could read and
-- type into an open display); the sandbox's sbx run gets it as XAUTHORITY.
function M.xauthority_path(fb_dir)
  return (fb_dir:gsub("/+$", "")) .. "/Xauthority"
end

-- A new random cookie for display N, in FB_DIR's Xauthority file (0600).
local function write_cookie(n, fb_dir)
  local random = io.open("/dev/urandom", "rb")
  local cookie = random and random:read(16)
  if random then random:close() end
  if not cookie or #cookie ~= 16 then return nil, "cannot read /dev/urandom" end
  return fs.write_atomic(M.xauthority_path(fb_dir), xauth.wildcard_file(n, cookie), tonumber("600", 8))
end

-- Starts Xvfb on display N with its screen in FB_DIR and its messages in
-- LOG_PATH, tells ON_STARTED(identity) at once (so it can be recorded
-- before anything waits), and waits until it accepts connections. Returns
-- its identity {pid, start_time}, or nil and why. The process is detached
-- (its own session), so it outlives a manager restart; while this manager
-- runs, its exit is reaped here.
function M.start_xvfb(n, fb_dir, log_path, on_started)
  local ok, err = fs.mkdir_p(fb_dir, tonumber("700", 8))
  if not ok then return nil, err end
  ok, err = write_cookie(n, fb_dir)
  if not ok then return nil, "cannot write the display's cookie: " .. err end
  local log_fd = uv.fs_open(log_path, "a", tonumber("600", 8))
  local exited = false
  local handle, pid
  -- Closing the handle once the process has exited is what reaps it.
  handle, pid = uv.spawn("Xvfb", {
    args = { ":" .. n, "-screen", "0", M.screen, "-fbdir", fb_dir, "-auth", M.xauthority_path(fb_dir),
      "-nolisten", "tcp", "-noreset" },
    stdio = { nil, log_fd, log_fd },
    detached = true,
  }, function()
    exited = true
    handle:close()
  end)
  if log_fd then uv.fs_close(log_fd) end
  if not handle then return nil, "cannot start Xvfb: " .. tostring(pid) end
  handle:unref() -- the manager may stop while Xvfb runs on
  local identity = process.identify(pid)
  if identity and on_started then on_started(identity) end
  local socket = M.socket_path(n)
  local deadline = uv.now() + 10000
  while not exited and uv.now() < deadline do
    if uv.fs_stat(socket) and accepts(socket) then return identity end
    async.sleep(20)
    uv.update_time()
  end
  if not exited and identity then
    log.warn(("Xvfb :%d did not accept connections within 10 s; stopping it"):format(n))
    process.terminate({ identity }, 2000)
  end
  return nil, ("Xvfb :%d did not start (see %s)"):format(n, log_path)
end

return M
