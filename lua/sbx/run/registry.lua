-- Running sandboxes, one file each in sbx's state directory, which no
-- sandbox can see. An entry names the sandbox's init by pid AND start time
-- (field 22 of /proc/PID/stat), so a pid reused by another process after
-- the sandbox ended is never mistaken for it: sbx never signals or enters
-- a process that is not the one it started.
local cjson = require "cjson"
local fs = require "sbx.fs"
local paths = require "sbx.paths"
local uv = require "luv"

local M = {}

function M.dir() return paths.state_dir() .. "/running" end

local function pidfd() return require "sbx.pidfd" end

-- Records the sandbox whose init is BOX ({pid}) for REQUEST, with the
-- backend's own fields in EXTRA. Returns the entry's file, or nil and a
-- message.
function M.register(request, box, start_time, extra)
  local ok, err = fs.mkdir_p(M.dir(), tonumber("700", 8))
  if not ok then return nil, err end
  local file = ("%s/%s.%d.json"):format(M.dir(), request.project.id, box.pid)
  local entry = {
    id = request.project.id,
    project = request.project.path,
    pid = box.pid,
    start_time = start_time,
    owner = uv.os_getpid(),
    network = request.network,
    tmux = request.tmux,
    shell = request.shell,
    started = os.time(),
    backend = request.backend,
  }
  for key, value in pairs(extra or {}) do entry[key] = value end
  ok, err = fs.write_atomic(file, cjson.encode(entry) .. "\n", tonumber("600", 8), { durable = false })
  if not ok then return nil, err end
  return file
end

-- ENTRY with its numbers as integers (JSON gives floats), or nil when it
-- is not an entry.
local function valid(entry)
  if type(entry) ~= "table" or type(entry.id) ~= "string" or type(entry.project) ~= "string" then return nil end
  local pid, start_time = math.tointeger(entry.pid), math.tointeger(entry.start_time)
  if not pid or pid <= 1 or not start_time then return nil end
  entry.pid, entry.start_time = pid, start_time
  return entry
end

-- Whether the process ENTRY names is still the sandbox's init.
function M.alive(entry)
  return pidfd().start_time(entry.pid) == entry.start_time
end

-- The live entries, oldest first, each with its `file`; for one project
-- when PROJECT_ID is given. Entries of ended sandboxes are removed; a file
-- that is not an entry is kept aside as NAME.corrupt and reported in the
-- second result.
function M.list(project_id)
  local entries, problems = {}, {}
  local dir = uv.fs_scandir(M.dir())
  while dir do
    local name, kind = uv.fs_scandir_next(dir)
    if not name then break end
    local file = M.dir() .. "/" .. name
    local wanted = not project_id or name:sub(1, #project_id + 1) == project_id .. "."
    if kind == "file" and name:match("%.json$") and wanted then
      local ok, entry = pcall(cjson.decode, fs.read(file) or "")
      if not ok or not valid(entry) then
        uv.fs_rename(file, file .. ".corrupt")
        problems[#problems + 1] = ("%s is not a sandbox entry; kept aside as %s.corrupt"):format(file, file)
      elseif M.alive(entry) then
        entry.file = file
        entries[#entries + 1] = entry
      else
        uv.fs_unlink(file)
      end
    end
  end
  table.sort(entries, function(a, b)
    if a.started ~= b.started then return (a.started or 0) < (b.started or 0) end
    return a.pid < b.pid
  end)
  return entries, problems
end

function M.unregister(file)
  uv.fs_unlink(file)
end

return M
