-- Processes known by identity (pid + start time), so that a pid reused
-- after a manager restart is never mistaken for ours: finding a tree of
-- them, and ending them politely, then firmly.
local async = require "sbx.async"
local pidfd = require "sbx.pidfd"
local proc = require "sbx.proc"
local uv = require "luv"

local M = {}

-- The identity of PID now, or nil when there is no such process.
function M.identify(pid)
  local stat = pid and proc.stat(pid)
  if not stat then return nil end
  return { pid = pid, start_time = stat.start_time }
end

-- True while the process started at START_TIME still runs (a zombie has
-- finished: it only waits for its parent).
function M.alive(pid, start_time)
  local stat = pid and proc.stat(pid)
  return stat ~= nil and stat.start_time == start_time and stat.state ~= "Z"
end

local function as_identities(stats)
  local list = {}
  for _, stat in ipairs(stats) do list[#list + 1] = { pid = stat.pid, start_time = stat.start_time } end
  return list
end

-- PID and every process below it, as identities (parents first).
function M.tree(pid)
  return as_identities(proc.tree(proc.all(), { pid }))
end

-- The processes with an argument exactly equal to VALUE, as identities.
function M.with_argument(value)
  return as_identities(proc.with_argument(value))
end

local function survivors(identities)
  local left = {}
  for _, id in ipairs(identities) do
    if M.alive(id.pid, id.start_time) then left[#left + 1] = id end
  end
  return left
end

-- Waits up to MS for every process in IDENTITIES to end; returns those
-- still running.
function M.wait_gone(identities, ms)
  local deadline = uv.now() + ms
  local left = survivors(identities)
  while #left > 0 and uv.now() < deadline do
    async.sleep(25)
    uv.update_time()
    left = survivors(left)
  end
  return left
end

-- Ends IDENTITIES: SIGTERM, GRACE ms to finish, then SIGKILL. Returns true
-- when none is left.
function M.terminate(identities, grace)
  local left = survivors(identities)
  for _, id in ipairs(left) do pidfd.signal(id.pid, id.start_time, "term") end
  left = M.wait_gone(left, grace)
  for _, id in ipairs(left) do pidfd.signal(id.pid, id.start_time, "kill") end
  return #M.wait_gone(left, 5000) == 0
end

return M
