-- Processes known by identity (pid + start time), so that a pid reused
-- after a manager restart is never mistaken for ours: finding a tree of
-- them, and ending them politely, then firmly.
local async = require "sbx.async"
local pidfd = require "sbx.pidfd"
local uv = require "luv"

local M = {}

-- { pid, ppid, state, start_time } from /proc/PID/stat, or nil.
function M.stat(pid)
  local file = io.open("/proc/" .. pid .. "/stat", "r")
  if not file then return nil end
  local text = file:read("a")
  file:close()
  -- The command name may hold spaces and ')': the fields follow the last ')'.
  local after = text and text:match(".*%)%s+(.*)$")
  if not after then return nil end
  local fields = {}
  for field in after:gmatch("%S+") do fields[#fields + 1] = field end
  -- fields[1] is field 3 of stat (state), so field N is fields[N - 2].
  return { pid = pid, state = fields[1], ppid = tonumber(fields[2]), start_time = tonumber(fields[20]) }
end

-- The identity of PID now, or nil when there is no such process.
function M.identify(pid)
  local stat = pid and M.stat(pid)
  if not stat then return nil end
  return { pid = pid, start_time = stat.start_time }
end

-- True while the process started at START_TIME still runs (a zombie has
-- finished: it only waits for its parent).
function M.alive(pid, start_time)
  local stat = pid and M.stat(pid)
  return stat ~= nil and stat.start_time == start_time and stat.state ~= "Z"
end

-- PID and every process below it, as identities (parents first).
function M.tree(pid)
  local children = {}
  local scan = uv.fs_scandir("/proc")
  while scan do
    local name = uv.fs_scandir_next(scan)
    if not name then break end
    local child = tonumber(name)
    local stat = child and M.stat(child)
    if stat and stat.ppid then
      children[stat.ppid] = children[stat.ppid] or {}
      table.insert(children[stat.ppid], stat)
    end
  end
  local root = M.stat(pid)
  if not root then return {} end
  local found, queue = {}, { root }
  while #queue > 0 do
    local stat = table.remove(queue, 1)
    found[#found + 1] = { pid = stat.pid, start_time = stat.start_time }
    for _, child in ipairs(children[stat.pid] or {}) do queue[#queue + 1] = child end
  end
  return found
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
