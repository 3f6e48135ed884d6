-- Lua values as readable Lua source: sorted keys, one entry per line, so
-- `sbx spec` output can be pasted into a config file.
local M = {}

local function is_identifier(key)
  return type(key) == "string" and key:match("^[%a_][%w_]*$") ~= nil
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number" -- list part first
  end)
  return keys
end

local function render(value, indent, out)
  local kind = type(value)
  if kind == "string" then
    out[#out + 1] = ("%q"):format(value):gsub("\\\n", "\\n")
  elseif kind ~= "table" then
    out[#out + 1] = tostring(value)
  elseif next(value) == nil then
    out[#out + 1] = "{}"
  else
    local inner = indent .. "  "
    out[#out + 1] = "{\n"
    for _, key in ipairs(sorted_keys(value)) do
      out[#out + 1] = inner
      local is_list_element = math.type(key) == "integer" and key >= 1 and key <= #value
      if is_identifier(key) then
        out[#out + 1] = key .. " = "
      elseif not is_list_element then
        out[#out + 1] = "["
        render(key, inner, out)
        out[#out + 1] = "] = "
      end
      render(value[key], inner, out)
      out[#out + 1] = ",\n"
    end
    out[#out + 1] = indent .. "}"
  end
end

function M.lua(value)
  local out = {}
  render(value, "", out)
  return table.concat(out)
end

return M
