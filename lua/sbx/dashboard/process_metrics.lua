-- CPU and resident memory of a sandbox: every process descended from its
-- roots (the tmux pane running `sbx run`, and Xvfb), from /proc.
local proc = require "sbx.proc"

local M = {}

-- A sampler per sandbox: CPU is the difference of ticks between samples.
function M.sampler()
  return {}
end

-- Returns { processes =, rss_bytes =, cpu = fraction of one core or nil }.
function M.sample(sampler, roots, now_seconds)
  local tree = proc.tree(proc.all(), roots)
  local ticks, rss = 0, 0
  for _, stat in ipairs(tree) do
    ticks = ticks + stat.ticks
    rss = rss + proc.rss_bytes(stat.pid)
  end
  local figures = { processes = #tree, rss_bytes = rss }
  local previous = sampler.previous
  if previous and now_seconds > previous.time then
    -- A process that ended takes its ticks with it: never below zero.
    local used = math.max(0, ticks - previous.ticks) / proc.ticks_per_second
    figures.cpu = used / (now_seconds - previous.time)
  end
  sampler.previous = { time = now_seconds, ticks = ticks }
  return figures
end

return M
