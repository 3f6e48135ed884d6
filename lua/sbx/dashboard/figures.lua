-- The figures the dashboard shows, with the state that makes them cheap:
-- one system sampler, and per sandbox a process sampler and a Claude
-- usage tracker that reads only what was appended since the last look.
local async = require "sbx.async"
local uv = require "luv"
local claude_usage = require "sbx.dashboard.claude_usage"
local processes = require "sbx.dashboard.process_metrics"
local system = require "sbx.dashboard.system_metrics"

local M = {}

-- Pane pids are asked from tmux at most this often.
M.pane_refresh_ms = 10000

local system_sampler = system.sampler()
local system_latest, system_taken_at, system_waiters
local per_sandbox = {} -- id -> { processes =, tracker =, panes =, panes_at = }
local prices

-- The price table of the resolved spec (the user's config applies); the
-- default one when the config is broken (sbx says so elsewhere).
function M.prices()
  if not prices then
    local spec_module = require "sbx.spec"
    local resolved = spec_module.load()
    prices = (resolved or spec_module.default()).prices
  end
  return prices
end

-- The host's figures, sampled at most once a second; concurrent callers
-- share one sample. Waits.
function M.system()
  local now = uv.now()
  if system_latest and now - system_taken_at < 1000 then return system_latest end
  if system_waiters then
    async.wait(function(done) table.insert(system_waiters, done) end)
    return system_latest
  end
  system_waiters = {}
  system_latest = system.sample(system_sampler)
  system_taken_at = uv.now()
  local waiters = system_waiters
  system_waiters = nil
  for _, done in ipairs(waiters) do done() end
  return system_latest
end

local function state_of(record)
  local state = per_sandbox[record.id]
  if not state then
    state = { processes = processes.sampler() }
    per_sandbox[record.id] = state
  end
  local dir = record.home and record.project_dir and
    claude_usage.sessions_dir(record.home, record.project_dir)
  if dir and (not state.tracker or state.tracker.dir ~= dir) then
    state.tracker = claude_usage.tracker(dir)
  end
  return state
end

-- The sandbox's tmux panes: { pid =, width =, height = }, the logged one
-- first. Waits.
local function panes(record, state)
  if not record.tmux_socket or not record.tmux_session then return {} end
  if state.panes and uv.now() - state.panes_at < M.pane_refresh_ms then return state.panes end
  local result = async.execute({ "tmux", "-S", record.tmux_socket, "list-panes", "-s", "-t",
    "=" .. record.tmux_session, "-F", "#{pane_pid} #{pane_width} #{pane_height}" }, { timeout = 2000 })
  local list = {}
  if result and result.code == 0 then
    for pid, width, height in result.stdout:gmatch("(%d+) (%d+) (%d+)") do
      list[#list + 1] = { pid = tonumber(pid), width = tonumber(width), height = tonumber(height) }
    end
  end
  state.panes, state.panes_at = list, uv.now()
  return list
end

-- The size of the terminal whose output is logged (the session's first
-- pane), so the log viewer draws it as tmux does: cols, rows or nil.
function M.terminal_size(record)
  local first = panes(record, state_of(record))[1]
  if first then return first.width, first.height end
end

-- CPU, memory and process count of the sandbox's process trees. Waits.
function M.resources(record)
  local state = state_of(record)
  local roots = {}
  for _, pane in ipairs(panes(record, state)) do roots[#roots + 1] = pane.pid end
  if record.pid_xvfb then roots[#roots + 1] = record.pid_xvfb end
  return processes.sample(state.processes, roots, uv.hrtime() / 1e9)
end

-- Claude Code's figures for the sandbox's project (see claude_usage.summary).
function M.claude(record)
  local state = state_of(record)
  if not state.tracker then return claude_usage.summary(claude_usage.new_counter().figures, M.prices()) end
  return claude_usage.summary(claude_usage.refresh(state.tracker), M.prices())
end

function M.forget(id)
  per_sandbox[id] = nil
end

return M
