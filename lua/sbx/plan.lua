-- Launch plans (docs/plan.md) after a backend made them: the user's plan
-- editors, and the JSON `--dry-run` prints.
local cjson = require "cjson"

local M = {}

-- Runs the config's editors (sbx.edit_plan) in order. An editor returns the
-- plan (a new one or the one it changed) or nothing (changed in place).
-- Returns the plan, or nil and a message.
function M.apply_editors(plan, request, editors)
  for i, edit in ipairs(editors or {}) do
    local ok, result = xpcall(edit, debug.traceback, plan, request)
    if not ok then return nil, ("plan editor %d in your config failed: %s"):format(i, result) end
    if result ~= nil then
      if type(result) ~= "table" then
        return nil, ("plan editor %d in your config returned a %s, not a plan"):format(i, type(result))
      end
      plan = result
    end
  end
  return plan
end

-- Environment variables whose values --dry-run does not print.
local function is_secret_name(name)
  return name:find("TOKEN", 1, true) or name:find("KEY", 1, true) or name:find("SECRET", 1, true)
    or name:find("PASSWORD", 1, true)
end

local function copy(value)
  if type(value) ~= "table" then return value end
  local out = {}
  for k, v in pairs(value) do out[k] = copy(v) end
  return out
end

-- The plan as JSON, with secrets left out: the values of secret-looking
-- variables and the contents of private (0600) files, which is what a
-- user may paste into a bug report.
function M.to_json(plan)
  local shown = copy(plan)
  for i, entry in ipairs(shown.env or {}) do
    local name = entry:match("^([^=]*)=")
    if name and is_secret_name(name) then shown.env[i] = name .. "=(hidden)" end
  end
  for _, op in ipairs(shown.mounts or {}) do
    if op.contents and (op.mode == "0600" or not utf8.len(op.contents)) then
      op.contents = ("(%d bytes, not shown)"):format(#op.contents)
    end
  end
  return cjson.encode(shown)
end

return M
