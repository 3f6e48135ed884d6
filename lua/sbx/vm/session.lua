-- One session in a VM, seen from `sbx run`: a connection to one of the
-- guest agent's ports (docs/vm.md), our terminal or stdio on one side,
-- frames on the other. With a terminal, ours is raw meanwhile and the
-- guest's pty does the rest (Ctrl-C, Ctrl-Z act there); its size follows
-- ours. Without one, stdin, stdout and stderr stay apart, and the end of
-- our input is the end of the session's.
local async = require "sbx.async"
local frame = require "sbx.vm.frame"
local relay = require "sbx.run.relay"
local uv = require "luv"

local M = {}

-- How long to wait for QEMU's socket to appear, and between tries.
M.CONNECT_TIMEOUT_MS = 30000
local RETRY_MS = 50
-- Input is read only while this much is waiting to go to the VM.
local MAX_QUEUED = 1024 * 1024

local SIGNAL_NUMBERS = { hup = 1, int = 2, quit = 3, term = 15 }

-- Connects to the Unix socket NAME in DIR, through the directory's
-- descriptor so that the path's length never matters; tries until it
-- answers, ALIVE() is false or the time is up. A pipe, or nil and a
-- message. Waits.
function M.connect(dir, name, alive)
  local dir_fd, err = uv.fs_open(dir, "r", 0)
  if not dir_fd then return nil, err end
  local path = ("/proc/self/fd/%d/%s"):format(dir_fd, name)
  local deadline = uv.now() + M.CONNECT_TIMEOUT_MS
  local pipe, failure
  repeat
    pipe = uv.new_pipe(false)
    failure = async.wait(function(done) pipe:connect(path, done) end)
    if not failure then break end
    pipe:close()
    pipe = nil
    async.sleep(RETRY_MS)
  until uv.now() > deadline or (alive and not alive())
  uv.fs_close(dir_fd)
  if not pipe then return nil, ("cannot connect to %s/%s: %s"):format(dir, name, tostring(failure)) end
  return pipe
end

local function terminal_size()
  for _, fd in ipairs { 0, 1 } do
    if uv.guess_handle(fd) == "tty" then
      local tty = uv.new_tty(fd, fd == 0)
      local cols, rows = tty:get_winsize()
      tty:close()
      if cols then return rows, cols end
    end
  end
  return 0, 0
end

-- The start frame's fields for a session of PLAN (lua/sbx/vm/frame.lua).
function M.start_for(plan)
  local rows, cols = terminal_size()
  return {
    mode = plan.terminal == "pty" and "pty" or "pipes",
    lifetime = plan.lifetime, rows = rows, cols = cols,
    cwd = plan.cwd, argv = plan.argv, env = plan.env,
  }
end

-- Runs the session START on PIPE (a connected port) until it ends.
-- OPTIONS:
--   main       the VM's main session: its end is acknowledged (the VM
--              then powers off), and "the processes go on" may come
--   on_signal  called with a signal's name ("term", ...) sbx got and passed on
-- Returns {code =} or {signal =} as the session ended, {detached = true}
-- when its processes go on without it, or nil and a message. Waits.
function M.run(pipe, start, options)
  options = options or {}
  local payload, err = frame.start_payload(start)
  if not payload then pipe:close(); return nil, err end
  local co = async.current()
  local handles, status, failure, finished = {}, nil, nil, false
  local function keep(handle) handles[#handles + 1] = handle; return handle end
  local function finish()
    if finished then return end
    finished = true
    for _, handle in ipairs(handles) do
      if not handle:is_closing() then handle:close() end
    end
    uv.tty_reset_mode()
    -- The acknowledgement must leave before the pipe closes.
    pipe:shutdown(function() pipe:close() end)
    coroutine.resume(co)
  end
  local function send(kind, data) if not finished then pipe:write(frame.encode(kind, data)) end end

  local input, to_guest
  local function resume_input()
    if input and not finished and pipe:get_write_queue_size() < MAX_QUEUED then input:read_start(to_guest) end
  end
  function to_guest(read_err, data)
    if data then
      for at = 1, #data, frame.MAX_PAYLOAD do
        pipe:write(frame.encode("D", data:sub(at, at + frame.MAX_PAYLOAD - 1)), resume_input)
      end
      if pipe:get_write_queue_size() >= MAX_QUEUED then input:read_stop() end
    elseif not read_err then
      input:read_stop()
      send("Z")
    end
  end
  -- A file (or a device such as /dev/null) as stdin: read as the VM takes it.
  local function pump_file()
    while not finished do
      local chunk = uv.fs_read(0, frame.MAX_PAYLOAD, -1)
      if not chunk or chunk == "" then return send("Z") end
      send("D", chunk)
      while not finished and pipe:get_write_queue_size() >= MAX_QUEUED do async.sleep(10) end
    end
  end

  send("S", payload)
  local kind = uv.guess_handle(0)
  if kind == "tty" then
    input = keep(uv.new_tty(0, true))
    if start.mode == "pty" then input:set_mode(1) end
  elseif kind == "pipe" then
    input = keep(uv.new_pipe(false))
    input:open(0)
  elseif kind == "file" then
    async.spawn_task(pump_file)
  else
    send("Z")
  end
  if input then input:read_start(to_guest) end

  if start.mode == "pty" then
    keep(uv.new_signal()):start("sigwinch", function()
      local rows, cols = terminal_size()
      if rows > 0 then send("W", ("%d %d"):format(rows, cols)) end
    end)
  end
  for signal, name in pairs(relay.forwarded) do
    keep(uv.new_signal()):start(signal, function()
      send("K", tostring(SIGNAL_NUMBERS[name]))
      if options.on_signal then options.on_signal(name) end
    end)
  end
  keep(uv.new_signal()):start("sigpipe", function() end)

  local decoder = frame.decoder(frame.from_guest)
  pipe:read_start(function(_, data)
    if not data then
      if not status then failure = "the VM ended the session without saying how it ended" end
      return finish()
    end
    local frames, bad = decoder:feed(data)
    if not frames then
      failure = "the VM sent what is not sbx's protocol (" .. bad .. ")"
      return finish()
    end
    for _, f in ipairs(frames) do
      if f.kind == "O" then relay.write_all(1, f.payload)
      elseif f.kind == "E" then relay.write_all(2, f.payload)
      elseif f.kind == "X" or f.kind == "T" then
        status = frame.exit_status(f.payload)
        if not status then failure = ("the VM sent a malformed exit status %q"):format(f.payload) end
        if status and f.kind == "T" then
          status = options.main and { detached = true } or status
        end
        if options.main and f.kind == "X" then send("A") end
        return finish()
      end
    end
  end)
  coroutine.yield()
  if failure then return nil, failure end
  return status
end

return M
