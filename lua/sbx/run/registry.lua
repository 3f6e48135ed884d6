-- Running sandboxes, one file each in sbx's state directory, which no
-- sandbox can see. An entry names the sandbox's init by pid AND start time
-- (field 22 of /proc/PID/stat), so a pid reused by another process after
-- the sandbox ended is never mistaken for it: sbx never signals or enters
-- a process that is not the one it started.
local cjson = require "cjson"
local fs = require "sbx.fs"
local paths = require "sbx.paths"
local requests = require "sbx.run.request"
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
local known_backend = {}
for _, name in ipairs(requests.backends) do known_backend[name] = true end

local function valid(entry)
  if type(entry) ~= "table" or type(entry.id) ~= "string" or type(entry.project) ~= "string" then return nil end
  local pid, start_time = math.tointeger(entry.pid), math.tointeger(entry.start_time)
  if not pid or pid <= 1 or not start_time then return nil end
  -- The backend names a module to load: only a known one.
  if entry.backend ~= nil and not known_backend[entry.backend] then return nil end
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

-- How a further session enters the sandbox of ENTRY: its backend's
-- joined_through ("engine": the engine's enter; "vm": a VM's session
-- port). Entries older than the backend field are the engine's own.
local function way_into(entry)
  return requests.backend_module(entry.backend or "bubblewrap").joined_through
end

-- ENTRIES split by how they are joined: those joined through WAY, and the
-- first of the others (which a launcher of WAY cannot join).
function M.split_by_way(entries, way)
  local mine, other = {}, nil
  for _, entry in ipairs(entries) do
    if way_into(entry) == way then mine[#mine + 1] = entry
    else other = other or entry end
  end
  return mine, other
end

-- Why ENTRY, a sandbox of another kind, is not joined by a BACKEND run.
function M.other_backend_message(entry, backend)
  local theirs = entry.backend or "bubblewrap"
  return ("a %s sandbox is running for %s: `sbx run --backend %s` joins it, --new starts a %s one beside it")
    :format(theirs, entry.project, theirs, backend)
end

-- The project's running sandbox that REQUEST (not --new) joins through
-- WAY; nil when a new one is to be made; nil and a message when neither
-- can be (a sandbox joined another way runs; --enter with none running).
function M.to_join(request, way)
  local entries, problems = M.list(request.project.id)
  for _, problem in ipairs(problems) do io.stderr:write("sbx run: warning: ", problem, "\n") end
  local running, other = M.split_by_way(entries, way)
  if running[1] then return running[1] end
  if other then return nil, M.other_backend_message(other, request.backend) end
  if request.action == "enter" then return nil, ("no sandbox is running for %s"):format(request.project.path) end
  return nil
end

function M.unregister(file)
  uv.fs_unlink(file)
end

return M
