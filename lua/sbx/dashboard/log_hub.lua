-- One tailer per log file, shared by every viewer of it, woken by inotify
-- through the loop (one fs event per log directory, for all its logs).
-- Nobody watching a log costs nothing: its tailer and watch are closed
-- shortly after its last viewer left.
--
-- Positions are the tailer's (see engine/tail.h); EPOCH names one tailer's
-- life, so a viewer coming back after the manager restarted or the tailer
-- was reopened gets the backlog again instead of a position that means
-- nothing any more.
local tail = require "sbx.tail"
local uv = require "luv"
local log = require "sbx.log"

local M = {}

M.ring_bytes = 1024 * 1024
M.ring_lines = 1000
-- A log nobody views is kept this long, so a viewer that reconnects
-- (a network blip, a page reload) resumes where it was.
M.linger_ms = 30000
-- When the directory cannot be watched (inotify limits), poll instead.
M.fallback_poll_ms = 250

local logs = {} -- path -> entry
local directories = {} -- dir -> { watcher =, entries = { basename -> entry } }
local epochs = 0

local function split(path)
  local dir, base = path:match("^(.*)/([^/]+)$")
  return dir ~= "" and dir or "/", base
end

local function notify(entry)
  for viewer in pairs(entry.viewers) do viewer.on_data() end
end

local function pump(entry)
  if entry.closed then return end
  local advanced, more = entry.tail:pump()
  if not advanced then
    log.warn(("log %s: %s"):format(entry.path, more))
    return
  end
  if advanced > 0 then notify(entry) end
  -- A writer faster than a pump's budget: go on at the loop's next turn
  -- rather than all at once.
  if more and not entry.again then
    entry.again = uv.new_timer()
    entry.again:start(0, 0, function()
      entry.again:close()
      entry.again = nil
      pump(entry)
    end)
  end
end

local function watch_directory(dir)
  local watched = directories[dir]
  if watched then return watched end
  watched = { entries = {} }
  local watcher = uv.new_fs_event()
  local ok, err = watcher:start(dir, {}, function(failure, filename)
    if failure then
      log.warn(("watching %s: %s"):format(dir, failure))
      return
    end
    local entry = filename and watched.entries[filename]
    if entry then
      pump(entry)
    elseif not filename then
      for _, each in pairs(watched.entries) do pump(each) end
    end
  end)
  if ok then
    watched.watcher = watcher
  else
    watcher:close()
    log.warn(("cannot watch %s (%s): polling its logs every %d ms"):format(dir, err, M.fallback_poll_ms))
  end
  directories[dir] = watched
  return watched
end

local function open_entry(path)
  local handle, err = tail.open(path, { bytes = M.ring_bytes, lines = M.ring_lines })
  if not handle then return nil, err end
  epochs = epochs + 1
  local dir, base = split(path)
  local entry = { path = path, dir = dir, base = base, tail = handle, viewers = {}, count = 0,
    epoch = ("%x-%x"):format(uv.hrtime() // 1000000, epochs) }
  local watched = watch_directory(dir)
  watched.entries[base] = entry
  if not watched.watcher then
    entry.poll = uv.new_timer()
    entry.poll:start(M.fallback_poll_ms, M.fallback_poll_ms, function() pump(entry) end)
  end
  logs[path] = entry
  return entry
end

local function close_entry(entry)
  entry.closed = true
  if entry.linger then entry.linger:close() end
  logs[entry.path] = nil
  if entry.again then entry.again:close() end
  if entry.poll then entry.poll:close() end
  entry.tail:close()
  local watched = directories[entry.dir]
  watched.entries[entry.base] = nil
  if next(watched.entries) == nil then
    if watched.watcher then watched.watcher:close() end
    directories[entry.dir] = nil
  end
end

-- A viewer of the log at PATH. ON_DATA() is called when bytes were added;
-- the viewer then reads from the position it reached. Returns the viewer
-- (fields epoch, and methods read, range, close), or nil and a message.
function M.subscribe(path, on_data)
  local entry = logs[path]
  if not entry then
    local err
    entry, err = open_entry(path)
    if not entry then return nil, err end
  elseif entry.linger then
    entry.linger:close()
    entry.linger = nil
  end
  local viewer = { epoch = entry.epoch, on_data = on_data }
  entry.viewers[viewer] = true
  entry.count = entry.count + 1
  -- Whatever was written before the watch began.
  pump(entry)

  -- The bytes from FROM to the end: data, the position they start at
  -- (later than FROM when the window moved past it), the end position.
  function viewer.read(_, from)
    local data, copied_from = entry.tail:read(from)
    return data, copied_from, copied_from + #data
  end
  function viewer.range()
    return entry.tail:range()
  end
  function viewer.close()
    if not entry.viewers[viewer] then return end
    entry.viewers[viewer] = nil
    entry.count = entry.count - 1
    if entry.count == 0 then
      entry.linger = uv.new_timer()
      entry.linger:start(M.linger_ms, 0, function()
        entry.linger:close()
        entry.linger = nil
        close_entry(entry)
      end)
    end
  end
  return viewer
end

-- Closes at once the logs that nobody views any more.
function M.close_idle()
  for _, entry in pairs(logs) do
    if entry.count == 0 then close_entry(entry) end
  end
end

-- How many logs are followed now (for tests and the benchmarks).
function M.open_count()
  local count = 0
  for _ in pairs(logs) do count = count + 1 end
  return count
end

return M
