-- Between the caller's terminal and a sandbox: the sandbox's pty master is
-- relayed to our stdin/stdout, so nothing inside ever holds the caller's
-- terminal (no TIOCSTI into it, no job-control games with it). The
-- caller's terminal is raw meanwhile: Ctrl-C, Ctrl-Z and the rest reach
-- the sandbox's own line discipline and act there.
local uv = require "luv"

local M = {}

local READ_SIZE = 65536
-- After the sandbox ended, how long its last output may take to drain.
local DRAIN_MS = 500

-- Signals to sbx itself that the sandbox should get too.
M.forwarded = { sighup = "hup", sigterm = "term", sigint = "int", sigquit = "quit" }

-- The exit code a shell would report for STATUS ({code=, signal=}).
function M.exit_code(status)
  if not status then return 1 end
  if status.signal and status.signal ~= 0 then
    local number = type(status.signal) == "number" and status.signal or 15
    return 128 + number
  end
  return status.code or 1
end

-- Writes all of DATA to FD (blocking); false when it cannot.
function M.write_all(fd, data)
  local offset = 1
  while offset <= #data do
    local written = uv.fs_write(fd, data:sub(offset), -1)
    if not written or written <= 0 then return false end
    offset = offset + written
  end
  return true
end

-- Waits until BOX (a sandbox or an entered process) exits, relaying its pty
-- when it has one, and returns its status. Waits.
-- OPTIONS.on_hangup, for a sandbox that outlives its entry (tmux): called
-- when every terminal inside is closed while it still runs (the client
-- detached). The caller's terminal is given back then. When it returns
-- "detach", wait returns {detached = true} at once and the sandbox goes
-- on; otherwise a signal to sbx (Ctrl-C) ends the sandbox.
function M.wait(box, options)
  options = options or {}
  local co = require("sbx.async").current()
  local handles, status, output_done = {}, nil, box.pty == nil
  local finished, hung_up = false, false
  local function keep(handle) handles[#handles + 1] = handle; return handle end
  local function finish_if_done()
    if finished or not status or not output_done then return end
    finished = true
    for _, handle in ipairs(handles) do
      if not handle:is_closing() then handle:close() end
    end
    uv.tty_reset_mode()
    coroutine.resume(co)
  end

  local input_tty = uv.guess_handle(0) == "tty" and keep(uv.new_tty(0, true)) or nil
  local size_tty = input_tty or (uv.guess_handle(1) == "tty" and keep(uv.new_tty(1, false))) or nil
  local function resize()
    if not size_tty or not box.pty then return end
    local cols, rows = size_tty:get_winsize()
    if cols then require("sbx.sandbox").pty_set_size(box.pty, rows, cols) end
  end

  if box.pty then
    resize()
    keep(uv.new_signal()):start("sigwinch", resize)
    local master = keep(uv.new_poll(box.pty))
    master:start("r", function()
      local data = uv.fs_read(box.pty, READ_SIZE, -1)
      if data and #data > 0 then
        if not M.write_all(1, data) then output_done = true end
      else -- EIO: every slave end is closed
        master:stop()
        output_done = true
        if not status and options.on_hangup then
          hung_up = true
          uv.tty_reset_mode()
          if input_tty then input_tty:read_stop() end
          if options.on_hangup() == "detach" then status = { detached = true } end
        end
        finish_if_done()
      end
    end)
    local function to_sandbox(err, data)
      if data then M.write_all(box.pty, data)
      elseif not err then M.write_all(box.pty, "\4") end -- our input ended: end theirs
    end
    if input_tty then
      input_tty:set_mode(1)
      input_tty:read_start(to_sandbox)
    elseif uv.guess_handle(0) == "pipe" then
      local pipe = keep(uv.new_pipe(false))
      pipe:open(0)
      pipe:read_start(to_sandbox)
    else
      M.write_all(box.pty, "\4")
    end
  end

  for signal, name in pairs(M.forwarded) do
    -- In raw mode the terminal sends no SIGINT: these come from kill(1).
    keep(uv.new_signal()):start(signal, function()
      box:signal(hung_up and "kill" or name)
    end)
  end
  keep(uv.new_signal()):start("sigpipe", function() end)

  local exit_poll = keep(uv.new_poll(box.pidfd))
  exit_poll:start("r", function()
    exit_poll:stop()
    status = box:reap() or { code = 1 }
    if not output_done then
      local timer = keep(uv.new_timer())
      timer:start(DRAIN_MS, 0, function()
        output_done = true
        finish_if_done()
      end)
    end
    finish_if_done()
  end)
  coroutine.yield()
  return status
end

return M
