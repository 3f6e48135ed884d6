-- state.json: what the manager knows about its sandboxes, kept across
-- restarts. Written atomically (sbx.fs.write_atomic) and in a stable form,
-- so that "nothing changed" is "the same bytes". A file that cannot be read
-- as a state is moved aside and reported, never silently replaced.
local cjson = require "cjson"
local fs = require "sbx.fs"
local log = require "sbx.log"
local uv = require "luv"

local M = {}

M.version = 1

-- Every field of a record and its type ("?" = may be absent). The public
-- ones are what the REST API shows; the rest are the manager's own.
M.fields = {
  { "id", "string" }, { "name", "string" }, { "backend", "string" },
  { "project_dir", "string" }, { "status", "string" }, { "display_num", "?number" },
  { "tmux_session", "string" }, { "pid_xvfb", "?number" }, { "qemu_qmp_socket", "?string" },
  { "network", "string" }, { "created_at", "string" },
  -- internal
  { "xvfb_start_time", "?number" }, { "home", "string" }, { "creating", "?boolean" },
}

local STATUSES = { running = true, stopped = true, dead = true }
local BACKENDS = { bubblewrap = true, container = true, vm = true }
local NETWORKS = { host = true, private = true, none = true }

function M.path(state_dir) return state_dir .. "/state.json" end

-- nil when RECORD is well formed, else what is wrong with it.
function M.check_record(id, record)
  if type(record) ~= "table" then return "not an object" end
  for _, field in ipairs(M.fields) do
    local name, kind = field[1], field[2]
    local optional = kind:sub(1, 1) == "?"
    kind = optional and kind:sub(2) or kind
    local value = record[name]
    if value == cjson.null then value = nil end
    if value == nil and not optional then return name .. " is missing" end
    if value ~= nil and type(value) ~= kind then return name .. " is not a " .. kind end
    if kind == "number" and value ~= nil and not math.tointeger(value) then
      return name .. " is not a whole number"
    end
  end
  if record.id ~= id then return "its id differs from its key" end
  if not STATUSES[record.status] then return "unknown status " .. record.status end
  if not BACKENDS[record.backend] then return "unknown backend " .. record.backend end
  if not NETWORKS[record.network] then return "unknown network " .. record.network end
end

-- One record as JSON with its fields in a fixed order.
local function encode_record(record)
  local parts = {}
  for _, field in ipairs(M.fields) do
    local value = record[field[1]]
    if value ~= nil then
      parts[#parts + 1] = ("    %s: %s"):format(cjson.encode(field[1]), cjson.encode(value))
    end
  end
  return "{\n" .. table.concat(parts, ",\n") .. "\n  }"
end

-- SANDBOXES ({ id = record }) as the file's text, ids in order.
function M.encode(sandboxes)
  local ids = {}
  for id in pairs(sandboxes) do ids[#ids + 1] = id end
  table.sort(ids)
  local parts = {}
  for _, id in ipairs(ids) do
    parts[#parts + 1] = ("  %s: %s"):format(cjson.encode(id), encode_record(sandboxes[id]))
  end
  local body = #parts > 0 and "{\n" .. table.concat(parts, ",\n") .. "\n}" or "{}"
  return ('{"version": %d,\n"sandboxes": %s}\n'):format(M.version, body)
end

-- Parses TEXT; the sandboxes, or nil and what is wrong.
function M.decode(text)
  local ok, data = pcall(cjson.decode, text)
  if not ok then return nil, "not JSON: " .. tostring(data) end
  if type(data) ~= "table" or data.version ~= M.version or type(data.sandboxes) ~= "table" then
    return nil, "not a version " .. M.version .. " state (version, sandboxes)"
  end
  if data.sandboxes[1] ~= nil then return nil, "sandboxes is a list, not an object" end
  for id, record in pairs(data.sandboxes) do
    local problem = M.check_record(id, record)
    if problem then return nil, ("sandbox %s: %s"):format(id, problem) end
    for key, value in pairs(record) do
      if value == cjson.null then
        record[key] = nil
      elseif math.type(value) == "float" then
        -- cjson reads every number as a float; pids and displays are
        -- integers ("/proc/4600.0" names nothing).
        record[key] = math.tointeger(value) or value
      end
    end
  end
  return data.sandboxes
end

-- The sandboxes in STATE_DIR's state.json (none when there is no file).
-- A file that does not parse is renamed state.json.corrupt-<time> and
-- logged as an error; the manager then starts with no sandboxes. Returns
-- the sandboxes and, when a file was moved aside, its new path.
function M.load(state_dir)
  local path = M.path(state_dir)
  local text, err, code = fs.read(path)
  if not text then
    if code == 2 or (err and err:find("No such file", 1, true)) then return {} end
    error(("cannot read %s: %s"):format(path, err))
  end
  local sandboxes, problem = M.decode(text)
  if sandboxes then return sandboxes end
  local aside = ("%s.corrupt-%s"):format(path, os.date("!%Y%m%dT%H%M%SZ"))
  local renamed, rename_err = uv.fs_rename(path, aside)
  if not renamed then error(("%s is corrupt (%s) and cannot be moved aside: %s"):format(path, problem, rename_err)) end
  log.error(("STATE FILE CORRUPT: %s: %s. It was moved to %s and the manager starts with "
    .. "no sandboxes; sandboxes it knew may still be running (tmux -S <state>/tmux.sock ls)."):format(
    path, problem, aside))
  return {}, aside
end

-- Writes TEXT (from M.encode) as STATE_DIR's state.json; true, or false
-- after logging why not.
function M.write(state_dir, text)
  local ok, err = fs.write_atomic(M.path(state_dir), text, tonumber("600", 8))
  if not ok then log.error(("cannot write %s: %s"):format(M.path(state_dir), err)) end
  return ok == true
end

return M
