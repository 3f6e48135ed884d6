-- What Claude Code did in a project, from its session files:
-- ~/.claude/projects/<encoded project path>/<session>.jsonl, and the
-- subagents' sidechains beside them (<session>/subagents/agent-*.jsonl).
--
-- A tracker reads only the bytes appended since its last look, and counts
-- each API response once: Claude Code writes one line per content block,
-- each repeating the response's usage, and a resumed session copies lines
-- into a new file. The files are written by the sandbox, so they are
-- hostile input: bounded reads, regular files only, bad lines counted and
-- skipped.
local cjson = require("cjson").new()
local uv = require "luv"

local M = {}

-- A line longer than this is dropped (and counted as malformed).
M.max_line = 32 * 1024 * 1024
-- At most this many bytes are parsed per refresh (parsing blocks the
-- loop: about a tenth of a second for 8 MiB); the rest waits for the next.
M.refresh_budget = 8 * 1024 * 1024
M.max_files = 5000
local READ_CHUNK = 1024 * 1024

-- Claude Code names a project's directory after its path (symbolic links
-- resolved) with every UTF-16 code unit other than an ASCII letter or
-- digit replaced by "-" ("/tmp/my.proj_x y" -> "-tmp-my-proj-x-y"); a name
-- longer than 200 characters is cut there and followed by "-" and the
-- base-36 absolute value of the path's 32-bit Java-style string hash.
-- (Observed with Claude Code 2.1.332: tests/support/model_server.sh.)
M.max_project_name = 200

local function utf16_units(path)
  local units = {}
  local ok = pcall(function()
    for _, code in utf8.codes(path) do
      if code > 0xFFFF then
        code = code - 0x10000
        units[#units + 1] = 0xD800 + (code >> 10)
        units[#units + 1] = 0xDC00 + (code & 0x3FF)
      else
        units[#units + 1] = code
      end
    end
  end)
  if not ok then
    -- Not UTF-8: Node reads each bad byte as U+FFFD.
    units = {}
    for i = 1, #path do
      local byte = path:byte(i)
      units[i] = byte < 128 and byte or 0xFFFD
    end
  end
  return units
end

local function base36(n)
  local digits = ""
  repeat
    local r = n % 36
    digits = ("0123456789abcdefghijklmnopqrstuvwxyz"):sub(r + 1, r + 1) .. digits
    n = n // 36
  until n == 0
  return digits
end

function M.encode_project_path(path)
  local units = utf16_units(path)
  local name = {}
  for i, unit in ipairs(units) do
    local char = unit < 128 and string.char(unit) or ""
    name[i] = char:match("^%w$") and char or "-"
  end
  name = table.concat(name)
  if #name <= M.max_project_name then return name end
  local hash = 0
  for _, unit in ipairs(units) do hash = (hash * 31 + unit) & 0xFFFFFFFF end
  if hash >= 0x80000000 then hash = hash - 0x100000000 end
  return name:sub(1, M.max_project_name) .. "-" .. base36(math.abs(hash))
end

function M.sessions_dir(home, project_path)
  local real = uv.fs_realpath(project_path) or project_path
  return home .. "/.claude/projects/" .. M.encode_project_path(real)
end

local function new_figures()
  return {
    input_tokens = 0, output_tokens = 0, cache_creation_tokens = 0, cache_read_tokens = 0,
    responses = 0, prompts = 0, tool_results = 0, tool_uses = 0, tools = {},
    sessions = 0, subagents = 0, last_activity = nil, malformed_lines = 0, models = {},
  }
end

-- Counting state: the figures and what was already counted.
function M.new_counter()
  return {
    figures = new_figures(),
    responses = {},   -- response key -> the usage counted for it
    prompts = {},     -- line uuid
    tool_uses = {},   -- tool_use id
    tool_results = {}, -- tool_use_id answered
    sessions = {},
    subagents = {},
  }
end

local usage_fields = {
  { "input_tokens", "input_tokens" },
  { "output_tokens", "output_tokens" },
  { "cache_creation_input_tokens", "cache_creation_tokens" },
  { "cache_read_input_tokens", "cache_read_tokens" },
}

local function count_of(value)
  if math.type(value) == "integer" and value >= 0 then return value end
  if type(value) == "number" and value >= 0 and value < 2 ^ 53 then return math.floor(value) end
  return 0
end

local function model_figures(figures, model)
  if type(model) ~= "string" or #model > 200 then model = "unknown" end
  local entry = figures.models[model]
  if not entry then
    entry = { input_tokens = 0, output_tokens = 0, cache_creation_tokens = 0, cache_read_tokens = 0 }
    figures.models[model] = entry
  end
  return entry
end

-- A response's usage may be written more than once (per content block,
-- and again when a session is resumed); the largest seen counts, once.
local function count_usage(counter, message, line)
  local usage = message.usage
  if type(usage) ~= "table" then return end
  local key = tostring(message.id or "") .. "|" .. tostring(line.requestId or "")
  if key == "|" then key = tostring(line.uuid) end
  local counted = counter.responses[key]
  local figures = counter.figures
  if not counted then
    counted = { model = message.model }
    counter.responses[key] = counted
    figures.responses = figures.responses + 1
  end
  local per_model = model_figures(figures, counted.model)
  for _, field in ipairs(usage_fields) do
    local value = count_of(usage[field[1]])
    local before = counted[field[2]] or 0
    if value > before then
      figures[field[2]] = figures[field[2]] + value - before
      per_model[field[2]] = per_model[field[2]] + value - before
      counted[field[2]] = value
    end
  end
end

local function count_assistant(counter, line, message)
  count_usage(counter, message, line)
  if type(message.content) ~= "table" then return end
  local figures = counter.figures
  for _, block in ipairs(message.content) do
    if type(block) == "table" and block.type == "tool_use" then
      local id = tostring(block.id)
      if not counter.tool_uses[id] then
        counter.tool_uses[id] = true
        local name = type(block.name) == "string" and block.name:sub(1, 100) or "unknown"
        figures.tool_uses = figures.tool_uses + 1
        figures.tools[name] = (figures.tools[name] or 0) + 1
      end
    end
  end
end

local function count_user(counter, line, message)
  local figures = counter.figures
  local content = message.content
  local is_prompt = type(content) == "string"
  if type(content) == "table" then
    for _, block in ipairs(content) do
      if type(block) == "table" then
        if block.type == "tool_result" then
          local id = tostring(block.tool_use_id)
          if not counter.tool_results[id] then
            counter.tool_results[id] = true
            figures.tool_results = figures.tool_results + 1
          end
        elseif block.type == "text" or block.type == "image" then
          is_prompt = true
        end
      end
    end
  end
  -- Meta lines are Claude Code's own notes; a sidechain's "prompt" is the
  -- task the main agent gave its subagent, not a person's.
  if is_prompt and line.isMeta ~= true and line.isSidechain ~= true then
    local id = tostring(line.uuid)
    if not counter.prompts[id] then
      counter.prompts[id] = true
      figures.prompts = figures.prompts + 1
    end
  end
end

-- Counts one decoded line (any JSON value; anything unexpected is ignored).
function M.count_line(counter, line)
  if type(line) ~= "table" then return end
  local figures = counter.figures
  if type(line.timestamp) == "string" and #line.timestamp < 40 and
      (not figures.last_activity or line.timestamp > figures.last_activity) then
    figures.last_activity = line.timestamp
  end
  if type(line.sessionId) == "string" and line.isSidechain ~= true and
      not counter.sessions[line.sessionId] then
    counter.sessions[line.sessionId] = true
    figures.sessions = figures.sessions + 1
  end
  if line.isSidechain == true and type(line.agentId) == "string" and
      not counter.subagents[line.agentId] then
    counter.subagents[line.agentId] = true
    figures.subagents = figures.subagents + 1
  end
  local message = line.message
  if type(message) ~= "table" then return end
  if line.type == "assistant" then
    count_assistant(counter, line, message)
  elseif line.type == "user" then
    count_user(counter, line, message)
  end
end

-- Counts the complete lines in TEXT; returns the unfinished rest.
function M.count_text(counter, text)
  local position = 1
  while true do
    local newline = text:find("\n", position, true)
    if not newline then break end
    local line = text:sub(position, newline - 1)
    position = newline + 1
    if line:find("%S") then
      local ok, value = pcall(cjson.decode, line)
      if ok then
        M.count_line(counter, value)
      else
        counter.figures.malformed_lines = counter.figures.malformed_lines + 1
      end
    end
  end
  return text:sub(position)
end

-- Estimated cost in dollars from PRICES (the spec's list of
-- {model = prefix, input =, output =, cache_write =, cache_read =}, in
-- dollars per million tokens; the longest matching prefix wins). Returns
-- the total and the list of models with no price.
function M.cost(figures, prices)
  local total, unpriced = 0, {}
  for model, usage in pairs(figures.models) do
    local best
    for _, price in ipairs(prices or {}) do
      if model:sub(1, #price.model) == price.model and (not best or #price.model > #best.model) then
        best = price
      end
    end
    local tokens = usage.input_tokens + usage.output_tokens + usage.cache_creation_tokens +
      usage.cache_read_tokens
    if best then
      total = total + (usage.input_tokens * best.input + usage.output_tokens * best.output +
        usage.cache_creation_tokens * best.cache_write + usage.cache_read_tokens * best.cache_read) / 1e6
    elseif tokens > 0 then
      unpriced[#unpriced + 1] = model
    end
  end
  table.sort(unpriced)
  return total, unpriced
end

-- ---- files ----

-- Regular files only, opened without blocking, and the same file that
-- was looked at (a swapped-in FIFO or device is refused).
local function open_regular(path, expected)
  local fd = uv.fs_open(path, uv.constants.O_RDONLY | uv.constants.O_NONBLOCK, 0)
  if not fd then return nil end
  local stat = uv.fs_fstat(fd)
  if not stat or stat.type ~= "file" or (expected and stat.ino ~= expected.ino) then
    uv.fs_close(fd)
    return nil
  end
  return fd, stat
end

-- The session files under DIR: *.jsonl, and those one or two levels down
-- (subagent sidechains), never through a symbolic link.
function M.session_files(dir)
  local found = {}
  local function scan(path, depth)
    local entries = uv.fs_scandir(path)
    if not entries then return end
    while #found < M.max_files do
      local name, kind = uv.fs_scandir_next(entries)
      if not name then break end
      local full = path .. "/" .. name
      if kind == "file" and name:sub(-6) == ".jsonl" then
        found[#found + 1] = full
      elseif kind == "directory" and depth < 2 then
        scan(full, depth + 1)
      end
    end
  end
  scan(dir, 0)
  table.sort(found)
  return found
end

-- A tracker follows DIR (which may not exist yet).
function M.tracker(dir)
  return { dir = dir, files = {}, counter = M.new_counter() }
end

-- Reads what was appended to one file, within BUDGET bytes. Returns the
-- bytes read; false when the file shrank or was replaced.
local function follow_file(tracker, path, budget)
  local state = tracker.files[path]
  local lstat = uv.fs_lstat(path)
  if not lstat or lstat.type ~= "file" then return 0 end
  if state and (lstat.ino ~= state.ino or lstat.size < state.offset) then return false end
  if state and lstat.size == state.offset then return 0 end
  local fd = open_regular(path, lstat)
  if not fd then return 0 end
  if not state then
    state = { ino = lstat.ino, offset = 0, rest = "" }
    tracker.files[path] = state
  end
  local read = 0
  while read < budget do
    local data = uv.fs_read(fd, READ_CHUNK, state.offset)
    if not data or data == "" then break end
    state.offset = state.offset + #data
    read = read + #data
    local text = state.rest .. data
    if state.dropping then
      local newline = text:find("\n", 1, true)
      text = newline and text:sub(newline + 1) or ""
      state.dropping = not newline
    end
    state.rest = M.count_text(tracker.counter, text)
    if #state.rest > M.max_line then
      tracker.counter.figures.malformed_lines = tracker.counter.figures.malformed_lines + 1
      state.rest, state.dropping = "", true
    end
  end
  uv.fs_close(fd)
  return read
end

-- Brings the figures up to date and returns them. Only appended bytes are
-- read; a file that shrank or was replaced makes the count start over.
function M.refresh(tracker)
  local budget = M.refresh_budget
  for _, path in ipairs(M.session_files(tracker.dir)) do
    local read = follow_file(tracker, path, budget)
    if read == false then
      tracker.files, tracker.counter = {}, M.new_counter()
      return M.refresh(tracker)
    end
    budget = budget - read
    if budget <= 0 then break end
  end
  return tracker.counter.figures
end

-- The figures, cost included, as the API and the pages show them.
function M.summary(figures, prices)
  local cost, unpriced = M.cost(figures, prices)
  local tools = {}
  for name, count in pairs(figures.tools) do tools[#tools + 1] = { name = name, count = count } end
  table.sort(tools, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return a.name < b.name
  end)
  return {
    input_tokens = figures.input_tokens,
    output_tokens = figures.output_tokens,
    cache_creation_tokens = figures.cache_creation_tokens,
    cache_read_tokens = figures.cache_read_tokens,
    responses = figures.responses,
    prompts = figures.prompts,
    tool_results = figures.tool_results,
    tool_uses = figures.tool_uses,
    tools = tools,
    sessions = figures.sessions,
    subagents = figures.subagents,
    last_activity = figures.last_activity,
    malformed_lines = figures.malformed_lines,
    estimated_cost_usd = cost,
    unpriced_models = unpriced,
  }
end

return M
