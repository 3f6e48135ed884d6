-- Processes as /proc shows them: one reading of /proc/PID/stat and one walk
-- down the process tree, for the manager (ending a sandbox's processes) and
-- the dashboard (adding up their CPU and memory).
local fs = require "sbx.fs"
local uv = require "luv"

local M = {}

-- USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every Linux ABI.
M.ticks_per_second = 100

-- The text of /proc/PID/stat as { pid, state, ppid, ticks (user + system
-- CPU), start_time }, or nil.
function M.parse_stat(text)
  -- The command name may hold spaces and ')': the fields follow the last ')'.
  local pid, rest = (text or ""):match("^(%d+) %(.*%) (.*)$")
  if not rest then return nil end
  local fields = {}
  for field in rest:gmatch("%S+") do fields[#fields + 1] = field end
  -- fields[1] is field 3 of stat (state), so field N is fields[N - 2].
  local ppid, utime, stime = tonumber(fields[2]), tonumber(fields[12]), tonumber(fields[13])
  if not ppid or not utime or not stime then return nil end
  return { pid = tonumber(pid), state = fields[1], ppid = ppid, ticks = utime + stime,
    start_time = tonumber(fields[20]) }
end

-- PID's stat now, or nil when there is no such process.
function M.stat(pid)
  return M.parse_stat(fs.read("/proc/" .. pid .. "/stat"))
end

-- The pids of every process now.
function M.pids()
  local list = {}
  local scan = uv.fs_scandir("/proc")
  while scan do
    local name = uv.fs_scandir_next(scan)
    if not name then break end
    local pid = tonumber(name)
    if pid then list[#list + 1] = pid end
  end
  return list
end

-- Every process now: pid -> stat.
function M.all()
  local all = {}
  for _, pid in ipairs(M.pids()) do all[pid] = M.stat(pid) end
  return all
end

-- The processes of ALL (from M.all) in ROOTS (pids) and every one below
-- them, as stats, parents before their children.
function M.tree(all, roots)
  local children = {}
  for _, stat in pairs(all) do
    children[stat.ppid] = children[stat.ppid] or {}
    table.insert(children[stat.ppid], stat)
  end
  local found, queue, seen = {}, {}, {}
  for _, root in ipairs(roots) do
    if all[root] and not seen[root] then
      seen[root] = true
      queue[#queue + 1] = all[root]
    end
  end
  local next_index = 1
  while queue[next_index] do
    local stat = queue[next_index]
    next_index = next_index + 1
    found[#found + 1] = stat
    for _, child in ipairs(children[stat.pid] or {}) do
      if not seen[child.pid] then
        seen[child.pid] = true
        queue[#queue + 1] = child
      end
    end
  end
  return found
end

-- The stats of the processes with an argument exactly equal to VALUE.
function M.with_argument(value)
  local found = {}
  for _, pid in ipairs(M.pids()) do
    for argument in (fs.read("/proc/" .. pid .. "/cmdline") or ""):gmatch("([^%z]*)%z") do
      if argument == value then
        found[#found + 1] = M.stat(pid)
        break
      end
    end
  end
  return found
end

-- PID's name (/proc/PID/comm: what it calls itself, which no other
-- process may change), or nil when it is gone.
function M.comm(pid)
  local text = fs.read("/proc/" .. pid .. "/comm")
  return text and (text:gsub("\n$", ""))
end

-- The pids of PID's children now (its main thread's).
function M.children(pid)
  local list = {}
  for child in (fs.read(("/proc/%d/task/%d/children"):format(pid, pid)) or ""):gmatch("%d+") do
    list[#list + 1] = tonumber(child)
  end
  return list
end

-- PID's resident memory in bytes (0 when it is gone).
function M.rss_bytes(pid)
  local kib = (fs.read("/proc/" .. pid .. "/status") or ""):match("\nVmRSS:%s+(%d+) kB")
  return kib and tonumber(kib) * 1024 or 0
end

return M
