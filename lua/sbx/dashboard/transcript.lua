-- A Claude Code session as a list of entries to show: what the person
-- typed, what the model said (markdown, rendered by cmark in safe mode),
-- the tools it called and what they returned. The session file is written
-- inside the sandbox: everything but the model's markdown is shown as
-- text, and only the last MAX_BYTES of a huge file are read.
local cjson = require("cjson").new()
local markdown = require "sbx.markdown"
local uv = require "luv"
local template = require "sbx.dashboard.template"
local claude_usage = require "sbx.dashboard.claude_usage"

local M = {}

M.max_bytes = 16 * 1024 * 1024
M.max_text = 20000 -- characters of one tool result or input shown
M.preview_bytes = 64 * 1024

-- Session ids are Claude Code's UUIDs; anything else is not one of ours.
function M.valid_session_id(id)
  return type(id) == "string" and #id <= 64 and id:match("^[%w][%w%-]*$") ~= nil
end

local function clip(text)
  if #text <= M.max_text then return text end
  return text:sub(1, M.max_text) .. ("\n… (%d more bytes)"):format(#text - M.max_text)
end

-- Reads at most LIMIT bytes: the start (FROM_END false) or the end.
local function read_bounded(path, limit, from_end)
  local lstat = uv.fs_lstat(path)
  if not lstat or lstat.type ~= "file" then return nil end
  local fd = uv.fs_open(path, uv.constants.O_RDONLY | uv.constants.O_NONBLOCK, 0)
  if not fd then return nil end
  local stat = uv.fs_fstat(fd)
  local data
  if stat and stat.type == "file" and stat.ino == lstat.ino then
    local offset = from_end and math.max(0, stat.size - limit) or 0
    data = uv.fs_read(fd, math.min(limit, stat.size), offset)
  end
  uv.fs_close(fd)
  return data, stat and stat.size
end

local function text_of(content)
  if type(content) == "string" then return content end
  if type(content) ~= "table" then return "" end
  local parts = {}
  for _, block in ipairs(content) do
    if type(block) == "table" and type(block.text) == "string" then
      parts[#parts + 1] = block.text
    elseif type(block) == "table" and block.type == "image" then
      parts[#parts + 1] = "[image]"
    end
  end
  return table.concat(parts, "\n")
end

local function first_prompt(text)
  for line in text:gmatch("[^\n]+") do
    local ok, entry = pcall(cjson.decode, line)
    if ok and type(entry) == "table" and entry.type == "user" and entry.isMeta ~= true and
        type(entry.message) == "table" then
      local content = entry.message.content
      local prompt = type(content) == "string" and content or nil
      if type(content) == "table" and type(content[1]) == "table" and content[1].type == "text" then
        prompt = content[1].text
      end
      if type(prompt) == "string" then return prompt:sub(1, 200) end
    end
  end
end

-- The project's sessions, newest first: { id =, size =, modified =, preview = }.
function M.sessions(dir)
  local list = {}
  local entries = uv.fs_scandir(dir)
  while entries do
    local name, kind = uv.fs_scandir_next(entries)
    if not name then break end
    local id = name:match("^(.*)%.jsonl$")
    if kind == "file" and M.valid_session_id(id) then
      local stat = uv.fs_lstat(dir .. "/" .. name)
      local head = read_bounded(dir .. "/" .. name, M.preview_bytes, false) or ""
      list[#list + 1] = { id = id, size = stat and stat.size or 0,
        modified = stat and stat.mtime.sec or 0, preview = first_prompt(head) }
    end
  end
  table.sort(list, function(a, b) return a.modified > b.modified end)
  return list
end

local function add_blocks(entries, line, message)
  local role = line.type
  if type(message.content) == "string" then
    entries[#entries + 1] = { kind = role, text = clip(message.content) }
    return
  end
  if type(message.content) ~= "table" then return end
  for _, block in ipairs(message.content) do
    if type(block) == "table" then
      if block.type == "text" and type(block.text) == "string" then
        if role == "assistant" then
          entries[#entries + 1] = { kind = "assistant", html = template.safe(markdown.html(block.text)) }
        else
          entries[#entries + 1] = { kind = "user", text = clip(block.text) }
        end
      elseif block.type == "thinking" and type(block.thinking) == "string" then
        entries[#entries + 1] = { kind = "thinking", text = clip(block.thinking) }
      elseif block.type == "tool_use" then
        local ok, input = pcall(cjson.encode, block.input)
        entries[#entries + 1] = { kind = "tool_use", name = tostring(block.name),
          text = clip(ok and input or "") }
      elseif block.type == "tool_result" then
        entries[#entries + 1] = { kind = "tool_result", text = clip(text_of(block.content)),
          is_error = block.is_error == true }
      end
    end
  end
end

-- The entries of session ID under DIR, or nil and a message.
function M.read(dir, id)
  if not M.valid_session_id(id) then return nil, "no such session" end
  local data, size = read_bounded(dir .. "/" .. id .. ".jsonl", M.max_bytes, true)
  if not data then return nil, "no such session" end
  local result = { entries = {}, truncated = size > M.max_bytes, size = size, malformed = 0 }
  local seen = {}
  if result.truncated then data = data:match("\n(.*)$") or "" end
  for text in data:gmatch("[^\n]+") do
    local ok, line = pcall(cjson.decode, text)
    if not ok or type(line) ~= "table" then
      result.malformed = result.malformed + 1
    elseif (line.type == "user" or line.type == "assistant") and type(line.message) == "table" and
        line.isMeta ~= true and not seen[tostring(line.uuid)] then
      seen[tostring(line.uuid)] = true
      local before = #result.entries
      add_blocks(result.entries, line, line.message)
      for i = before + 1, #result.entries do
        result.entries[i].time = type(line.timestamp) == "string" and line.timestamp:sub(12, 19) or ""
        result.entries[i].sidechain = line.isSidechain == true
      end
    end
  end
  return result
end

function M.sessions_dir(record)
  if not record.home or not record.project_dir then return nil end
  return claude_usage.sessions_dir(record.home, record.project_dir)
end

return M
