-- Carrying out a container plan: systemd-nspawn on a root directory made
-- for this launch (lua/sbx/container/launch_dir.lua), with sbx itself as
-- the container's init (sbx container-init), which waits for our go; pasta
-- attached meanwhile for a private network; then a registration in sbx's
-- state directory, which no sandbox sees, naming the init by pid and start
-- time. Joining, --enter and --stop go through the engine as for the
-- bubblewrap backend (lua/sbx/run/launch.lua).
local async = require "sbx.async"
local fs = require "sbx.fs"
local launch = require "sbx.run.launch"
local launch_dir = require "sbx.container.launch_dir"
local network = require "sbx.run.network"
local nspawn = require "sbx.container.nspawn"
local paths = require "sbx.paths"
local pidfd = require "sbx.pidfd"
local proc = require "sbx.proc"
local registry = require "sbx.run.registry"
local relay = require "sbx.run.relay"
local state = require "sbx.run.state"
local uv = require "luv"

local M = {}

-- How long nspawn may take to start the init, and the init its entry.
M.START_TIMEOUT_MS = 30000
local POLL_MS = 2

local function sandbox() return require "sbx.sandbox" end

local function refuse_unprivileged()
  if uv.getuid() == 0 then return nil end
  return "the container backend runs systemd-nspawn, which needs root: run it with sudo "
    .. "(sudo sbx run --backend container ...), or use --backend bubblewrap, which needs no privilege"
end

-- The type of host path PATH, for nspawn.translate: with FOLLOW false,
-- "link" when it, or a directory on the way to it, is a symbolic link.
function M.kind(path, follow)
  if not follow then
    local walked = ""
    for part in path:gmatch("[^/]+") do
      walked = walked .. "/" .. part
      local stat = uv.fs_lstat(walked)
      if not stat then return nil end
      if stat.type == "link" then return "link" end
    end
  end
  local stat = uv.fs_stat(path)
  return stat and stat.type
end

-- nspawn reads settings from variables such as SYSTEMD_SECCOMP and
-- SYSTEMD_NSPAWN_API_VFS_WRITABLE: it gets none of the caller's.
local function nspawn_env()
  return { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=" .. (os.getenv("TERM") or "xterm-256color") }
end

-- What nspawn says at every exit on a host whose /run is not a tmpfs
-- (systemd is not PID 1): it leaves the removal of its propagation
-- directory to a fallback, which works. Not worth the user's attention.
M.nspawn_noise = 'Attempted to remove disk file system under "/run/systemd/nspawn/propagate/'

local function noise(line) return line:sub(1, #M.nspawn_noise) == M.nspawn_noise end

-- TEXT without its noise lines.
local function without_noise(text)
  local kept = {}
  for line in text:gmatch("[^\n]*\n?") do
    if not noise(line) then kept[#kept + 1] = line end
  end
  return table.concat(kept)
end

-- Passes what comes on PIPE to our stderr, but the lines that begin with
-- M.nspawn_noise; a partial line waits only while it could be one. Calls
-- ON_END at the end of it.
local function filter_stderr(pipe, on_end)
  local pending = ""
  pipe:read_start(function(_, data)
    pending = pending .. (data or "\n")
    local out = {}
    for line in pending:gmatch("[^\n]*\n") do
      if not noise(line) then out[#out + 1] = line end
    end
    pending = pending:match("[^\n]*$")
    if pending ~= "" and M.nspawn_noise:sub(1, #pending) ~= pending and not noise(pending) then
      out[#out + 1] = pending
      pending = ""
    end
    if #out > 0 then io.stderr:write(table.concat(out)) end
    if not data then
      pipe:close()
      on_end()
    end
  end)
end

-- Starts nspawn with ARGV. A relayed (attached) one shares our stdin and
-- stdout, and its stderr comes through filter_stderr; a detached one has
-- its own session, no input and its output in the file LOG. Returns a
-- handle whose wait() gives its exit code once it has ended and said all
-- (waits), or nil and a message.
local function start_nspawn(argv, detached, log)
  local exit_code, said_all, waiting = nil, detached, nil
  local function wake()
    if waiting and exit_code and said_all then coroutine.resume(waiting) end
  end
  local stderr, err
  if detached then
    stderr, err = uv.fs_open(log, "wx", tonumber("600", 8))
    if not stderr then return nil, err end
  else
    stderr = uv.new_pipe(false)
  end
  local args = table.move(argv, 2, #argv, 1, {})
  local handle, pid = uv.spawn(argv[1], {
    args = args, env = nspawn_env(), detached = detached,
    stdio = detached and { nil, stderr, stderr } or { 0, 1, stderr },
  }, function(code, signal)
    exit_code = signal ~= 0 and 128 + signal or code
    wake()
  end)
  if detached then uv.fs_close(stderr) end
  if not handle then
    if not detached then stderr:close() end
    return nil, "cannot start systemd-nspawn: " .. tostring(pid)
  end
  if not detached then
    filter_stderr(stderr, function()
      said_all = true
      wake()
    end)
  end
  local started = { pid = pid, start_time = pidfd.start_time(pid) }
  function started.ended() return exit_code ~= nil end
  function started.wait()
    if exit_code == nil or not said_all then
      waiting = async.current()
      coroutine.yield()
    end
    return exit_code
  end
  function started.stop()
    if exit_code == nil then handle:kill("sigterm") end
    return started.wait()
  end
  return started
end

-- Polls until CHECK() gives a value, the container ends, or the time is
-- up. Returns the value, or nil and a message. Waits.
local function wait_for(container, what, check)
  for _ = 0, M.START_TIMEOUT_MS, POLL_MS do
    local value = check()
    if value then return value end
    if container.ended() then
      return nil, ("systemd-nspawn ended (exit %d) before %s"):format(container.wait(), what)
    end
    async.sleep(POLL_MS)
  end
  return nil, ("%s did not happen within %d s"):format(what, M.START_TIMEOUT_MS // 1000)
end

-- The container's init: nspawn's child, once it calls itself by the name
-- the engine gives an init waiting for its go (before that, a signal to
-- it would be lost). Waits.
local function find_init(container)
  return wait_for(container, "the sandbox's init started", function()
    for _, pid in ipairs(proc.children(container.pid)) do
      if proc.comm(pid) == sandbox().adopt_waiting_name then return pid end
    end
  end)
end

-- Lets the init go on once its network is there. Returns its start time,
-- or nil and a message. Waits.
local function go(request, init)
  local start_time = pidfd.start_time(init)
  if not start_time then return nil, "the sandbox's init ended as it started" end
  if request.network == "private" then
    local ok, err = network.attach(init)
    if not ok then return nil, err .. " (--network host or none work without it)" end
  end
  local ok, err = pidfd.signal(init, start_time, "usr1")
  if not ok then return nil, "cannot start the sandbox: " .. err end
  return start_time
end

-- A detached tmux sandbox: once its entry (tmux new-session -d) is done,
-- this run attaches to the session as any later one does, and may leave.
local function attach(request, entry, make_plan)
  local code, err, err_code = launch.join(entry, request, make_plan)
  if registry.alive(entry) then launch.say_detached(request) end
  return code, err, err_code
end

-- Waits until the container ENTRY names has ended, relaying our signals to
-- its init, and returns nspawn's exit code. Waits.
local function wait_relayed(container, entry)
  local box = sandbox().open(entry.pid, entry.start_time)
  if box then
    relay.wait(box)
    box:close()
  end
  return container.wait()
end

local function start(request, host, make_plan)
  local ok, err = state.prepare(request, host)
  if not ok then return nil, err, 1 end
  local plan
  plan, err = make_plan(request)
  if not plan then return nil, err, 1 end
  local nspawn_path = paths.which("systemd-nspawn")
  if not nspawn_path then
    return nil, "systemd-nspawn is not installed (apt-get install systemd-container)", 1
  end
  launch_dir.sweep(request.project, (registry.list(request.project.id)))
  local dir = launch_dir.for_launch(request.project)
  local translated, translate_err = nspawn.translate(plan, {
    nspawn = nspawn_path, machine = dir.machine, root = dir.root, files = dir.files,
    sbx = uv.exepath(), kind = M.kind,
  })
  if not translated then return nil, "cannot make the container: " .. translate_err, 1 end
  ok, err = launch_dir.make(dir, translated)
  local detached = plan.die_with_parent == false
  local container
  local log = dir.dir .. "/nspawn.log"
  if ok then container, err = start_nspawn(translated.argv, detached, log) end
  if not container then
    fs.remove_tree(dir.dir)
    return nil, "cannot make the container: " .. err, 1
  end
  local function fail(message)
    container.stop()
    local said = detached and without_noise(fs.read(log) or "")
    fs.remove_tree(dir.dir)
    if said and said ~= "" then message = message .. ":\n" .. said end
    return nil, message, 1
  end
  if not detached then
    -- Killed with us, as the engine's sandboxes are: nspawn, told to
    -- stop, kills everything in its container.
    local me = uv.os_getpid()
    ok, err = pidfd.end_with(me, pidfd.start_time(me), container.pid, container.start_time)
    if not ok then return fail("cannot tie the container to sbx run: " .. err) end
  end
  local init, find_err = find_init(container)
  -- The init read its plan before it said it waits (and the bind keeps
  -- the file inside): the sandbox's secrets need not stay on disk.
  uv.fs_unlink(translated.init_file)
  if not init then return fail(find_err) end
  local start_time, go_err = go(request, init)
  if not start_time then return fail(go_err) end
  local file, register_err = registry.register(request, { pid = init }, start_time,
    { launch_dir = dir.dir, nspawn_pid = container.pid, nspawn_start_time = container.start_time })
  if not file then
    if detached then return fail("cannot register the sandbox, which must be to go on: " .. register_err) end
    launch.warn("cannot register the sandbox, so it cannot be joined: " .. register_err)
  end
  local entry = { pid = init, start_time = start_time, network = request.network, file = file }
  if detached then
    local done, wait_err = wait_for(container, "the sandbox's tmux session started", function()
      return proc.comm(init) == sandbox().entry_done_name
    end)
    if not done then
      registry.unregister(file)
      return fail(wait_err)
    end
    return attach(request, entry, make_plan)
  end
  local code = wait_relayed(container, entry)
  if file then registry.unregister(file) end
  fs.remove_tree(dir.dir)
  return code
end

function M.run(request, host, make_plan)
  local refusal = refuse_unprivileged()
  if refusal then return nil, refusal, 1 end
  return launch.run(request, host, make_plan, start)
end

function M.stop(request)
  local refusal = refuse_unprivileged()
  if refusal then return nil, refusal, 1 end
  return launch.stop(request)
end

-- After --stop ended ENTRY's init: nspawn follows it out; then its launch
-- directory goes. Waits.
function M.after_stop(entry)
  local pid, start_time = math.tointeger(entry.nspawn_pid), math.tointeger(entry.nspawn_start_time)
  for _ = 0, M.START_TIMEOUT_MS, POLL_MS do
    if not pid or pidfd.start_time(pid) ~= start_time then break end
    async.sleep(POLL_MS)
  end
  if type(entry.launch_dir) == "string" and entry.launch_dir:match("/containers/%d+%.%d+$") then
    fs.remove_tree(entry.launch_dir)
  end
end

return M
