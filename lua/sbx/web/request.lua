-- Reading what a client sent: media types, cookies, form and JSON bodies.
local cjson = require "cjson"

local M = {}

-- "application/json; charset=utf-8" -> "application/json"
function M.media_type(header)
  if not header then return nil end
  return (header:match("^%s*([^;%s]+)") or ""):lower()
end

local function unescape(text)
  return (text:gsub("+", " "):gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

-- application/x-www-form-urlencoded -> { name = value } (the last wins).
function M.parse_form(body)
  local fields = {}
  for pair in body:gmatch("[^&]+") do
    local name, value = pair:match("^([^=]*)=(.*)$")
    if name then
      fields[unescape(name)] = unescape(value)
    else
      fields[unescape(pair)] = ""
    end
  end
  return fields
end

function M.parse_cookies(header)
  local cookies = {}
  for pair in (header or ""):gmatch("[^;]+") do
    local name, value = pair:match("^%s*([^=%s]+)%s*=%s*(.-)%s*$")
    if name then cookies[name] = value:match('^"(.*)"$') or value end
  end
  return cookies
end

-- A JSON object, or nil and why.
function M.parse_json_object(body)
  local ok, value = pcall(cjson.decode, body)
  if not ok then return nil, "malformed JSON: " .. tostring(value):gsub("^.-:%d+: ", "") end
  if type(value) ~= "table" or value[1] ~= nil or (next(value) == nil and body:match("^%s*%[")) then
    return nil, "the body must be a JSON object"
  end
  return value
end

return M
