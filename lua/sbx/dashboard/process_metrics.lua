-- CPU and resident memory of a sandbox: every process descended from its
-- roots (the tmux pane running `sbx run`, and Xvfb), from /proc.
local fs = require "sbx.fs"

local M = {}

M.proc = "/proc"
-- USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every Linux ABI.
M.ticks_per_second = 100


-- Fields of /proc/<pid>/stat after the command name (which may hold
-- spaces and parentheses: the last ")" ends it). Returns ppid, cpu ticks.
function M.parse_stat(text)
  local rest = text and text:match("^%d+ %(.*%) (.*)$")
  if not rest then return nil end
  local fields = {}
  for field in rest:gmatch("%S+") do fields[#fields + 1] = field end
  -- rest starts at field 3 (state): ppid is 4, utime 14, stime 15.
  local ppid, utime, stime = tonumber(fields[2]), tonumber(fields[12]), tonumber(fields[13])
  if not ppid or not utime or not stime then return nil end
  return ppid, utime + stime
end

-- Every process: pid -> { ppid =, ticks = }.
function M.processes()
  local uv = require "luv"
  local list = {}
  local entries = uv.fs_scandir(M.proc)
  if not entries then return list end
  while true do
    local name = uv.fs_scandir_next(entries)
    if not name then break end
    local pid = tonumber(name)
    if pid then
      local ppid, ticks = M.parse_stat(fs.read(("%s/%d/stat"):format(M.proc, pid)))
      if ppid then list[pid] = { ppid = ppid, ticks = ticks } end
    end
  end
  return list
end

-- The pids in ROOTS and all their descendants, as a list.
function M.descendants(processes, roots)
  local children = {}
  for pid, info in pairs(processes) do
    children[info.ppid] = children[info.ppid] or {}
    table.insert(children[info.ppid], pid)
  end
  local found, queue, seen = {}, {}, {}
  for _, root in ipairs(roots) do
    if processes[root] and not seen[root] then
      seen[root] = true
      queue[#queue + 1] = root
    end
  end
  while #queue > 0 do
    local pid = table.remove(queue)
    found[#found + 1] = pid
    for _, child in ipairs(children[pid] or {}) do
      if not seen[child] then
        seen[child] = true
        queue[#queue + 1] = child
      end
    end
  end
  table.sort(found)
  return found
end

function M.rss_bytes(pid)
  local kib = (fs.read(("%s/%d/status"):format(M.proc, pid)) or ""):match("\nVmRSS:%s+(%d+) kB")
  return kib and tonumber(kib) * 1024 or 0
end

-- A sampler per sandbox: CPU is the difference of ticks between samples.
function M.sampler()
  return {}
end

-- Returns { processes =, rss_bytes =, cpu = fraction of one core or nil }.
function M.sample(sampler, roots, now_seconds)
  local all = M.processes()
  local pids = M.descendants(all, roots)
  local ticks, rss = 0, 0
  for _, pid in ipairs(pids) do
    ticks = ticks + all[pid].ticks
    rss = rss + M.rss_bytes(pid)
  end
  local figures = { processes = #pids, rss_bytes = rss }
  local previous = sampler.previous
  if previous and now_seconds > previous.time then
    -- A process that ended takes its ticks with it: never below zero.
    local used = math.max(0, ticks - previous.ticks) / M.ticks_per_second
    figures.cpu = used / (now_seconds - previous.time)
  end
  sampler.previous = { time = now_seconds, ticks = ticks }
  return figures
end

return M
