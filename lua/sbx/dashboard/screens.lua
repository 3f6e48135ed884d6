-- Screenshots, taken only when asked for: a page that shows a live screen
-- asks every few hundred milliseconds while it is visible, the list asks
-- for thumbnails that are refreshed at most every 15 s. Nothing runs for a
-- screen nobody looks at.
--
-- A capture first fingerprints the frame (about a millisecond for
-- 1920x1080, read in place from Xvfb's -fbdir file); the JPEG is encoded
-- again only when the fingerprint changed.
local async = require "sbx.async"
local fb = require "sbx.fb"
local fleet = require "sbx.manager.fleet"
local uv = require "luv"
local qmp = require "sbx.dashboard.qmp_screendump"

local M = {}

M.variants = {
  live = { min_interval_ms = 200, max_width = 0, quality = 75 },
  thumb = { min_interval_ms = 15000, max_width = 480, quality = 70 },
}

local screens = {} -- sandbox id -> state

-- Where a sandbox's screen comes from: Xvfb's file, or a QEMU monitor
-- that dumps into the directory of its socket (the sandbox's own, which
-- QEMU shares at the same path). nil when it has no screen.
function M.source_of(record)
  if record.fb_dir then
    return { kind = "xwd", path = record.fb_dir:gsub("/+$", "") .. "/Xvfb_screen0" }
  elseif record.qemu_qmp_socket then
    return { kind = "ppm", path = fleet.qmp_dir(record) .. "/screen.ppm", qmp = record.qemu_qmp_socket }
  end
end

local function state_for(id, source)
  local state = screens[id]
  if state and state.source.path ~= source.path then
    M.forget(id)
    state = nil
  end
  if not state then
    state = { source = source, screen = fb.open(source.path, source.kind), frames = {}, waiting = {} }
    screens[id] = state
  end
  return state
end

local function capture_now(state, variant)
  if state.source.qmp then
    local ok, err = qmp.dump(state.source.qmp, state.source.path)
    if not ok then return nil, err end
  end
  local fingerprint, err = state.screen:fingerprint()
  if not fingerprint then return nil, err end
  local previous = state.frames[variant]
  if previous and previous.fingerprint == fingerprint then return previous end
  local options = M.variants[variant]
  local jpeg, width, height = state.screen:jpeg { max_width = options.max_width, quality = options.quality }
  if not jpeg then return nil, width end
  return {
    fingerprint = fingerprint, jpeg = jpeg, width = width, height = height,
    etag = ('"%016x-%s"'):format(fingerprint, variant),
  }
end

-- The latest frame of RECORD's screen for VARIANT ("live" or "thumb"):
-- { jpeg =, etag =, width =, height = }, or nil and a message. Waits
-- (a VM's screen is dumped by QEMU); concurrent callers share a capture.
function M.frame(record, variant)
  local options = M.variants[variant]
  if not options then error("unknown screenshot variant " .. tostring(variant), 2) end
  local source = M.source_of(record)
  if not source then return nil, "this sandbox has no screen" end
  local state = state_for(record.id, source)
  local frame = state.frames[variant]
  local now = uv.now()
  if frame and now - frame.checked_at < options.min_interval_ms then return frame end

  local key = variant
  if state.waiting[key] then
    async.wait(function(done) table.insert(state.waiting[key], done) end)
    return state.frames[variant] or nil, state.failure
  end
  state.waiting[key] = {}
  local captured, err = capture_now(state, variant)
  if captured then
    captured.checked_at = uv.now()
    state.frames[variant] = captured
  end
  state.failure = err
  local waiters = state.waiting[key]
  state.waiting[key] = nil
  for _, done in ipairs(waiters) do done() end
  if not captured then return nil, err end
  return captured
end

-- Drops what is kept for sandbox ID (stopped or deleted).
function M.forget(id)
  local state = screens[id]
  if state then
    state.screen:close()
    screens[id] = nil
  end
end

return M
