-- The script a test gives the server: the agent's turns, in order. A file
-- ending in .json holds a JSON array; any other file is Lua returning a
-- table. Each turn is a table with
--   text      the reply's text (printed by `claude -p` on the last turn)
--   tools     a list of { name = "Bash", input = { command = "..." } }:
--             tool_use blocks, after the text if both are given
--   usage     fields that replace the estimated usage (for exact metrics)
-- (To keep Claude Code busy for a while, script a Bash call to sleep.)
-- Example: return { { tools = { { name = "Bash", input = { command = "echo hi > out.txt" } } } },
--                   { text = "Done." } }
local cjson = require "cjson"

local M = {}

local turn_fields = { text = "string", tools = "table", usage = "table" }

local function check_turn(turn, where)
  if type(turn) ~= "table" then return nil, where .. " is not a table" end
  for name, value in pairs(turn) do
    if not turn_fields[name] then return nil, ("%s has an unknown field '%s'"):format(where, tostring(name)) end
    if type(value) ~= turn_fields[name] then
      return nil, ("%s.%s must be a %s"):format(where, name, turn_fields[name])
    end
  end
  if not turn.text and not turn.tools then return nil, where .. " has neither text nor tools" end
  for i, tool in ipairs(turn.tools or {}) do
    if type(tool) ~= "table" or type(tool.name) ~= "string" or type(tool.input) ~= "table" then
      return nil, ("%s.tools[%d] needs a name (string) and an input (table)"):format(where, i)
    end
  end
  if turn.tools and #turn.tools == 0 then return nil, where .. ".tools is empty" end
  return true
end

-- The list of turns in the file at PATH, or nil and a message.
function M.load(path)
  local turns
  if path:match("%.json$") then
    local file, err = io.open(path, "rb")
    if not file then return nil, err end
    local ok, decoded = pcall(cjson.decode, file:read("a"))
    file:close()
    if not ok then return nil, path .. ": " .. decoded end
    turns = decoded
  else
    -- The script is the test's own: it may use the standard library, but
    -- what it sets stays in its own environment.
    local chunk, err = loadfile(path, "t", setmetatable({}, { __index = _G }))
    if not chunk then return nil, err end
    local ok, result = pcall(chunk)
    if not ok then return nil, result end
    turns = result
  end
  if type(turns) ~= "table" then return nil, path .. " does not hold a list of turns" end
  for i, turn in ipairs(turns) do
    local ok, err = check_turn(turn, ("%s: turn %d"):format(path, i))
    if not ok then return nil, err end
  end
  return turns
end

-- The content blocks of TURN, with fresh tool_use ids from NEW_ID, and the
-- stop reason that goes with them.
function M.content(turn, new_id)
  local content = {}
  if turn.text then content[1] = { type = "text", text = turn.text } end
  for _, tool in ipairs(turn.tools or {}) do
    content[#content + 1] = { type = "tool_use", id = new_id("toolu_"), name = tool.name, input = tool.input }
  end
  return content, turn.tools and "tool_use" or "end_turn"
end

return M
