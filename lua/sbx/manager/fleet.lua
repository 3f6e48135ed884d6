-- The sandboxes a manager keeps: their records, and making, stopping,
-- deleting and watching them. Every change is saved to state.json before
-- anything is started (a record being made is marked "creating"), so a
-- manager killed at any moment finds, at its next start, exactly what it
-- had promised plus half-made sandboxes it can roll back.
local async = require "sbx.async"
local cjson = require "cjson"
local display = require "sbx.manager.display"
local fs = require "sbx.fs"
local host = require "sbx.host"
local log = require "sbx.log"
local paths = require "sbx.paths"
local process = require "sbx.manager.process"
local state = require "sbx.manager.state"
local tmux = require "sbx.manager.tmux"
local uv = require "luv"
local validate = require "sbx.manager.validate"

local M = {}
local Fleet = {}
Fleet.__index = Fleet

-- How long processes get to end by themselves before SIGTERM, then SIGKILL.
M.grace_ms = 3000

local PUBLIC = { "id", "name", "backend", "project_dir", "status", "display_num", "tmux_session",
  "pid_xvfb", "qemu_qmp_socket", "network", "created_at" }

function M.uuid()
  local bytes = { uv.random(16):byte(1, 16) }
  bytes[7] = (bytes[7] & 0x0f) | 0x40 -- version 4
  bytes[9] = (bytes[9] & 0x3f) | 0x80 -- RFC 4122 variant
  local hex = ("%02x"):rep(16):format(table.unpack(bytes))
  return ("%s-%s-%s-%s-%s"):format(hex:sub(1, 8), hex:sub(9, 12), hex:sub(13, 16), hex:sub(17, 20), hex:sub(21))
end

-- RFC 3339 in UTC with milliseconds, so that "newest first" holds within
-- a second.
function M.now()
  local seconds, micro = uv.gettimeofday()
  return os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. (".%03dZ"):format(micro // 1000)
end

-- CONFIG: state_dir, tmux_socket, sbx (the binary sandboxes run),
-- default_network (the spec's) and passed_env (the variables sandboxes get
-- from the manager's environment).
function M.new(config)
  local self = setmetatable({ config = config, records = {}, locks = {}, listeners = {},
    reserved = {}, generation = 0, tmux = tmux.new(config.tmux_socket) }, Fleet)
  return self
end

-- The paths a record's sandbox uses, derived, never stored.
function Fleet:decorate(record)
  local dir = self.config.state_dir
  record.log_path = ("%s/logs/%s.log"):format(dir, record.id)
  record.xvfb_log_path = ("%s/logs/%s.xvfb.log"):format(dir, record.id)
  record.tmux_socket = self.config.tmux_socket
  if record.display_num then
    record.display = ":" .. record.display_num
    record.fb_dir = ("%s/fb/%s/"):format(dir, record.id)
  end
  return record
end

-- Writes state.json when the records changed (a write that fails is tried
-- again at the next save). Every change counts a new generation.
function Fleet:save()
  local text = state.encode(self.records)
  if text == self.saved_text then return end
  if text ~= self.last_text then
    self.generation = self.generation + 1
    self.last_text = text
  end
  if state.write(self.config.state_dir, text) then self.saved_text = text end
end

-- Reads state.json (moving a corrupt one aside); returns that path if so.
function Fleet:load()
  local records, moved_aside = state.load(self.config.state_dir)
  for _, record in pairs(records) do self:decorate(record) end
  self.records = records
  self.saved_text = state.encode(records)
  self.last_text = self.saved_text
  self.generation = self.generation + 1
  return moved_aside
end

function Fleet:on_change(fn) self.listeners[#self.listeners + 1] = fn end

function Fleet:emit(record, event)
  for _, fn in ipairs(self.listeners) do
    local ok, err = xpcall(fn, debug.traceback, record, event)
    if not ok then log.error("a change listener failed: " .. err) end
  end
end

-- Runs FN() with ID locked: operations on one sandbox happen one at a time.
function Fleet:with_lock(id, fn)
  while self.locks[id] do
    local co = async.current()
    table.insert(self.locks[id], co)
    coroutine.yield()
  end
  self.locks[id] = {}
  local results = table.pack(xpcall(fn, debug.traceback))
  local waiting = self.locks[id]
  self.locks[id] = nil
  for _, co in ipairs(waiting) do
    local resumed, err = coroutine.resume(co)
    if not resumed then log.error(debug.traceback(co, err)) end
  end
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

-- Every sandbox that exists for the API (not one still being made),
-- newest first.
function Fleet:list()
  local list = {}
  for _, record in pairs(self.records) do
    if not record.creating then list[#list + 1] = record end
  end
  table.sort(list, function(a, b)
    if a.created_at ~= b.created_at then return a.created_at > b.created_at end
    return a.id < b.id
  end)
  return list
end

function Fleet:get(id)
  local record = type(id) == "string" and self.records[id]
  if record and not record.creating then return record end
  return nil
end

-- The record as the REST API shows it.
function M.public(record)
  local view = {}
  for _, name in ipairs(PUBLIC) do
    local value = record[name]
    if value == nil then value = cjson.null end
    view[name] = value
  end
  return view
end

-- A free display: not used by any record, not reserved by a create in
-- progress, and really free on this host.
function Fleet:allocate_display()
  local taken = {}
  for _, record in pairs(self.records) do
    if record.display_num then taken[record.display_num] = true end
  end
  for n = display.first, display.last do
    if not taken[n] and not self.reserved[n] then
      self.reserved[n] = true
      if display.is_free(n) then return n end
      self.reserved[n] = nil
    end
  end
  return nil, ("no free X display between :%d and :%d"):format(display.first, display.last)
end

-- Ends a record's Xvfb: the one it names, or, for a sandbox whose making
-- was cut short before its Xvfb was written down, the one drawing into its
-- -fbdir.
local function stop_xvfb(record)
  if record.pid_xvfb and record.xvfb_start_time then
    process.terminate({ { pid = record.pid_xvfb, start_time = record.xvfb_start_time } }, M.grace_ms)
  elseif record.fb_dir then
    process.terminate(process.with_argument(record.fb_dir), M.grace_ms)
  end
end

-- Ends a sandbox's tmux session, every process under it and its Xvfb.
function Fleet:end_processes(record)
  local pane = self.tmux:pane_pid(record.tmux_session)
  local tree = pane and process.tree(pane) or {}
  self.tmux:kill(record.tmux_session)
  -- tmux hangs up the pane; `sbx run` then takes its sandbox down itself.
  local left = process.wait_gone(tree, M.grace_ms)
  if #left > 0 then process.terminate(left, M.grace_ms) end
  stop_xvfb(record)
end

-- A VM sandbox's own directory, which holds its QMP socket.
function M.qmp_dir(record)
  return fs.dirname(record.qemu_qmp_socket)
end

local function remove_files(record)
  for _, path in ipairs { record.log_path, record.xvfb_log_path } do
    if path then uv.fs_unlink(path) end
  end
  if record.qemu_qmp_socket then fs.remove_tree(M.qmp_dir(record)) end
  if record.fb_dir then
    uv.fs_unlink(record.fb_dir .. "Xvfb_screen0")
    uv.fs_unlink(display.xauthority_path(record.fb_dir))
    uv.fs_rmdir(record.fb_dir)
  end
end

function Fleet:forget(record)
  self.records[record.id] = nil
  self:save()
  remove_files(record)
end

-- What `sbx run` gets in its session's environment.
local function session_env(record)
  local env = {}
  if record.display then
    env[#env + 1] = "DISPLAY=" .. record.display
    env[#env + 1] = "XAUTHORITY=" .. display.xauthority_path(record.fb_dir)
  end
  if record.qemu_qmp_socket then env[#env + 1] = "SBX_QMP_SOCKET=" .. record.qemu_qmp_socket end
  -- A manager running Lua from the tree gives its sandboxes the same code.
  if host.lua_dir then env[#env + 1] = "SBX_LUA_DIR=" .. (uv.fs_realpath(host.lua_dir) or host.lua_dir) end
  return env
end

function Fleet:start_display(record)
  local failure
  for _ = 1, 3 do
    local n, err = self:allocate_display()
    if not n then return nil, err end
    record.display_num = n
    self:decorate(record)
    self:save()
    self.reserved[n] = nil -- the record holds it now
    local function remember(xvfb)
      record.pid_xvfb, record.xvfb_start_time = xvfb.pid, xvfb.start_time
      self:save()
    end
    local started, err_start = display.start_xvfb(n, record.fb_dir, record.xvfb_log_path, remember)
    if started then return true end
    -- Taken between the check and the start: try another.
    failure = err_start
    log.warn(("%s; trying another display"):format(err_start))
    record.display_num, record.display, record.fb_dir = nil, nil, nil
    record.pid_xvfb, record.xvfb_start_time = nil, nil
  end
  return nil, failure
end

-- Makes a sandbox from FIELDS ({name, backend, project_dir, network}).
-- Returns the record, or nil, a message, the field to blame and a status.
function Fleet:create(fields)
  local request, message, field = validate.check(fields, self.config.default_network)
  if not request then return nil, message, field, 422 end
  local id = M.uuid()
  local record = self:decorate {
    id = id, name = request.name, backend = request.backend, project_dir = request.project_dir,
    network = request.network, status = "running", created_at = M.now(),
    tmux_session = "sandbox-" .. id:sub(1, 8), home = paths.home(), creating = true,
  }
  if record.backend == "vm" then
    -- A directory of its own, which QEMU shares (lua/sbx/vm/qemu.lua):
    -- its QMP socket, and the screen dumps QEMU writes there.
    local dir = ("%s/qmp/%s"):format(self.config.state_dir, id)
    local ok, err = fs.mkdir_p(dir, tonumber("700", 8))
    if not ok then return nil, err, nil, 500 end
    record.qemu_qmp_socket = dir .. "/qmp.sock"
  end
  self.records[id] = record
  self:save()
  local ok, err = self:with_lock(id, function()
    if record.backend ~= "vm" then
      local started, display_err = self:start_display(record)
      if not started then return nil, display_err end
    end
    -- --new: each sandbox of the manager is its own, even on a project
    -- that already has one (sbx run would join that one otherwise).
    local argv = { self.config.sbx, "run", "--new", "--backend", record.backend, "--network", record.network,
      record.project_dir }
    return self.tmux:start(record.tmux_session, argv, session_env(record), record.project_dir,
      record.log_path, self.config.passed_env)
  end)
  if not ok then
    log.error(("creating sandbox %s failed: %s"):format(id, err))
    self:with_lock(id, function()
      self:end_processes(record)
      self:forget(record)
    end)
    return nil, err, nil, 500
  end
  record.creating = nil
  self:save()
  self:emit(record, "created")
  return record
end

-- Stops sandbox ID (nothing to do when it is not running). true, or nil,
-- a message and 404.
function Fleet:stop(id)
  local record = self:get(id)
  if not record then return nil, "no such sandbox", 404 end
  self:with_lock(id, function()
    if self.records[id] ~= record or record.status ~= "running" then return end
    self:end_processes(record)
    record.status = "stopped"
    self:save()
    self:emit(record, "stopped")
  end)
  return true
end

-- Stops sandbox ID if needed, forgets it and removes its log.
function Fleet:delete(id)
  local record = self:get(id)
  if not record then return nil, "no such sandbox", 404 end
  local deleted = self:with_lock(id, function()
    if self.records[id] ~= record then return false end
    if record.status == "running" then self:end_processes(record) else stop_xvfb(record) end
    self:forget(record)
    return true
  end)
  if deleted then self:emit(record, "deleted") end
  return true
end

local function snapshot(records)
  local list = {}
  for _, record in pairs(records) do list[#list + 1] = record end
  return list
end

-- The liveness check: a running sandbox whose session is gone is dead, and
-- its Xvfb is stopped. state.json is written only if something changed.
function Fleet:check()
  local sessions, err = self.tmux:sessions()
  if not sessions then
    log.warn("liveness check skipped: " .. tostring(err))
    return
  end
  for _, record in ipairs(snapshot(self.records)) do
    if record.status == "running" and not record.creating and not self.locks[record.id]
      and not sessions[record.tmux_session] then
      self:with_lock(record.id, function()
        if self.records[record.id] ~= record or record.status ~= "running" then return end
        log.info(("sandbox %s (%s): its session ended; it is dead"):format(record.id, record.name))
        record.status = "dead"
        self:save()
        stop_xvfb(record)
        self:emit(record, "dead")
      end)
    end
  end
end

-- At start: makes the records true again after the manager was away. A
-- half-made sandbox is rolled back; a running one whose session is gone is
-- dead; no stopped or dead sandbox keeps an Xvfb.
function Fleet:reconcile()
  local sessions, err = self.tmux:sessions()
  if not sessions then
    -- Not knowing which sessions live is not knowing which sandboxes died:
    -- leave them as they are; the liveness check will tell.
    log.warn("cannot list the tmux sessions (" .. tostring(err) .. "); sandboxes keep their status for now")
  end
  local known = {}
  for _, record in ipairs(snapshot(self.records)) do
    known[record.tmux_session] = true
    if record.creating then
      log.warn(("sandbox %s (%s) was being made when the manager stopped: rolled back"):format(
        record.id, record.name))
      self:end_processes(record)
      self:forget(record)
    elseif sessions and record.status == "running" and not sessions[record.tmux_session] then
      log.info(("sandbox %s (%s) ended while the manager was away: dead"):format(record.id, record.name))
      record.status = "dead"
      stop_xvfb(record)
    elseif record.status ~= "running" then
      stop_xvfb(record)
    end
  end
  for name in pairs(sessions or {}) do
    if not known[name] then
      log.warn(("tmux session %s is in no record of state.json; it is left running"):format(name))
    end
  end
  self:save()
end

-- Makes the directories the sandboxes' files go in.
function Fleet:prepare()
  local mode = tonumber("700", 8)
  for _, dir in ipairs { "", "/logs", "/fb", "/qmp" } do
    local ok, err = fs.mkdir_p(self.config.state_dir .. dir, mode)
    if not ok then return nil, err end
  end
  return true
end

return M
