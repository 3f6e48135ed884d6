-- The server's record of what it was sent: one JSON line per request, so a
-- test can assert on what the client asked (the prompt, the tool results it
-- passed back, the model) and on what it got (the reply, its usage).
local cjson = require "cjson"
local uv = require "luv"

local M = {}

local excerpt_bytes = 4000

local function excerpt(text)
  if #text <= excerpt_bytes then return text end
  return text:sub(1, excerpt_bytes) .. "..."
end

-- The text of a content value: a string, or the text blocks of a list.
local function text_of(content)
  if type(content) == "string" then return content end
  local parts = {}
  if type(content) == "table" then
    for _, block in ipairs(content) do
      if type(block) == "table" and type(block.text) == "string" then parts[#parts + 1] = block.text end
    end
  end
  return table.concat(parts, "\n")
end

-- A log that appends to PATH (nowhere when PATH is nil), or nil and why.
function M.open(path)
  local file, err
  if path then
    file, err = io.open(path, "a")
    if not file then return nil, err end
  end
  local log = {}
  function log.write(_, entry)
    if not file then return end
    -- A hostile body can hold what JSON cannot say (1e999); the line then
    -- says so instead of going missing.
    local ok, line = pcall(cjson.encode, entry)
    if not ok then line = cjson.encode { request_id = entry.request_id, error = "cannot log: " .. line } end
    file:write(line, "\n")
    file:flush()
  end
  function log.close()
    if file then file:close() end
    file = nil
  end
  return log
end

-- The start of a request's line: what is known before the body is read.
-- With WHOLE, the headers and the raw body too (to study a new client).
function M.entry(request, request_id, whole)
  local seconds, microseconds = uv.gettimeofday()
  return {
    headers = whole and request.headers or nil,
    body = whole and request.body or nil,
    time = seconds + microseconds / 1e6,
    method = request.method,
    path = request.target,
    request_id = request_id,
    body_bytes = #request.body,
    user_agent = request.headers["user-agent"],
    session_id = request.headers["x-claude-code-session-id"],
  }
end

-- Adds to ENTRY a summary of BODY, a decoded Messages request: the model,
-- the tools offered, the start of the system prompt, the last text block of
-- the last user message (what was typed, after Claude Code's reminders) and
-- the tool results that message carries.
function M.summarize(entry, body)
  entry.model = type(body.model) == "string" and body.model or nil
  entry.stream = body.stream == true
  entry.max_tokens = type(body.max_tokens) == "number" and math.tointeger(body.max_tokens) or nil
  if type(body.tools) == "table" and #body.tools > 0 then
    entry.tools = {}
    for i, tool in ipairs(body.tools) do
      entry.tools[i] = type(tool) == "table" and type(tool.name) == "string" and tool.name or "?"
    end
  end
  if body.system then entry.system = text_of(body.system):sub(1, 300) end
  if type(body.messages) ~= "table" then return end
  entry.messages = #body.messages
  for i = #body.messages, 1, -1 do
    local message = body.messages[i]
    if type(message) == "table" and message.role == "user" then
      if type(message.content) == "string" then entry.user_text = excerpt(message.content) end
      if type(message.content) == "table" then
        for _, block in ipairs(message.content) do
          if type(block) == "table" and block.type == "text" and type(block.text) == "string" then
            entry.user_text = excerpt(block.text)
          elseif type(block) == "table" and block.type == "tool_result" then
            entry.tool_results = entry.tool_results or {}
            entry.tool_results[#entry.tool_results + 1] = {
              tool_use_id = type(block.tool_use_id) == "string" and block.tool_use_id or nil,
              is_error = block.is_error == true,
              content = excerpt(text_of(block.content)),
            }
          end
        end
      end
      return
    end
  end
end

return M
