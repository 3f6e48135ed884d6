-- Requests Claude Code makes on its own, beside the agent's steps: they get
-- a default answer and leave the script where it is. No header tells them
-- apart (the same session id, user agent and betas as the agent's), so the
-- body does. Observed with Claude Code 2.1.332 (interactive, the first
-- prompt of a session): the session title, a request offering no tools and
-- asking, through output_config.format, for JSON matching a schema with a
-- "title" string. Claude Code names other such side queries (summaries,
-- prompt suggestions, memory extraction); they share the shape: no tools,
-- often a schema. The agent is always offered its tools, so a request
-- without any is never a step of the script.
local cjson = require "cjson"

local M = {}

-- The kind of background request BODY is, or nil for the agent's step.
function M.classify(body)
  local format = type(body.output_config) == "table" and body.output_config.format
  if type(format) == "table" and format.type == "json_schema" then
    local properties = type(format.schema) == "table" and format.schema.properties
    if type(properties) == "table" and properties.title then return "title" end
    return "structured_output"
  end
  if type(body.tools) ~= "table" or next(body.tools) == nil then return "no_tools" end
  return nil
end

-- A value that matches the JSON schema SCHEMA, as plain as it can be.
local function example(schema, name)
  if type(schema) ~= "table" then return cjson.null end
  if type(schema.enum) == "table" and schema.enum[1] ~= nil then return schema.enum[1] end
  local kind = schema.type
  if type(kind) == "table" then kind = kind[1] end
  if kind == "object" then
    local value = {}
    for property, subschema in pairs(type(schema.properties) == "table" and schema.properties or {}) do
      value[property] = example(subschema, property)
    end
    return value
  elseif kind == "array" then
    return { example(schema.items, name) }
  elseif kind == "integer" or kind == "number" then
    return 1
  elseif kind == "boolean" then
    return true
  end
  return "Scripted " .. tostring(name or "value")
end

-- The turn that answers a background request of KIND made with BODY.
function M.reply(kind, body)
  if kind == "title" then return { text = cjson.encode { title = "Scripted session" } } end
  if kind == "structured_output" then
    return { text = cjson.encode(example(body.output_config.format.schema)) }
  end
  return { text = "OK." }
end

return M
