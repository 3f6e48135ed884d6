-- The resolved spec: spec/default.lua with the user's config applied.
--
-- ~/.config/sbx/config.lua (or $SBX_CONFIG) is trusted Lua. It may
--   * change the spec in place through the global `spec`:
--       spec.defaults.network = "host"
--       table.insert(spec.etc, "/etc/gai.conf")
--   * return a table, merged over the spec (lists are replaced whole);
--   * register plan editors: sbx.edit_plan(function(plan, request) ... end).
-- Every value is checked as it is set, against the type of the default it
-- replaces, so a mistake is reported with the config's file and line.
local M = {}

-- Settings limited to a set of values.
M.choices = {
  ["defaults.network"] = { "host", "private", "none" },
  ["defaults.backend"] = { "bubblewrap", "container", "vm" },
  ["vm.accel"] = { "auto", "kvm", "tcg" },
}

-- Settings that are whole numbers within bounds.
M.ranges = {
  ["vm.memory_mb"] = { 256, 1024 * 1024 },
  ["vm.cpus"] = { 1, 64 },
}

-- Maps whose keys are not ours to know (policy names, model names).
M.open_maps = {
  ["chromium.policy"] = true,
}

local price_fields = { "input", "output", "cache_write", "cache_read" }

local function is_price(entry)
  if type(entry.model) ~= "string" or entry.model == "" then return false end
  for key in pairs(entry) do
    if key ~= "model" then
      local known = false
      for _, field in ipairs(price_fields) do known = known or key == field end
      if not known then return false end
    end
  end
  for _, field in ipairs(price_fields) do
    local value = entry[field]
    if type(value) ~= "number" or value < 0 or value ~= value or value == math.huge then return false end
  end
  return true
end

local function is_env_name(value) return value:match("^[A-Za-z_][A-Za-z0-9_]*$") ~= nil end

-- Extra checks on list elements, by the list's path.
M.element_checks = {
  etc = { "an absolute path under /etc", function(v) return v:match("^/etc/[^%z]+$") ~= nil end },
  ["env.allow"] = { "an environment variable name", is_env_name },
  ["env.tokens"] = { "an environment variable name", is_env_name },
  ["chromium.extensions"] = { "a 32-letter extension id (a-p)",
    function(v) return v:match("^[a-p]+$") ~= nil and #v == 32 end },
  prices = { "{model = name prefix, input =, output =, cache_write =, cache_read = dollars per million tokens}",
    is_price },
}

local function deep_copy(value)
  if type(value) ~= "table" then return value end
  local copy = {}
  for k, v in pairs(value) do copy[deep_copy(k)] = deep_copy(v) end
  return copy
end

local function is_list(t)
  return type(t) == "table" and (#t > 0 or next(t) == nil)
end

local function join(path, key)
  if type(key) == "number" then return path end
  return path == "" and key or path .. "." .. key
end

-- Checks VALUE for the setting PATH whose default is TEMPLATE. Returns
-- true, or nil and a message.
local function check(path, value, template)
  if M.open_maps[path] then
    if type(value) ~= "table" then return nil, path .. " must be a table" end
    for k, v in pairs(value) do
      if type(k) ~= "string" then return nil, path .. " keys must be strings" end
      if type(v) == "function" or type(v) == "userdata" or type(v) == "thread" then
        return nil, ("%s.%s cannot be a %s"):format(path, k, type(v))
      end
    end
    return true
  end
  if type(value) ~= type(template) then
    return nil, ("%s must be a %s, not a %s"):format(path, type(template), type(value))
  end
  local range = M.ranges[path]
  if range and not (math.tointeger(value) and value >= range[1] and value <= range[2]) then
    return nil, ("%s must be a whole number from %d to %d, not %s"):format(path, range[1], range[2],
      tostring(value))
  end
  local choices = M.choices[path]
  if choices then
    for _, choice in ipairs(choices) do
      if choice == value then return true end
    end
    return nil, ("%s must be one of %s, not '%s'"):format(path, table.concat(choices, ", "),
      tostring(value))
  end
  if type(value) ~= "table" then return true end
  if is_list(template) and #template > 0 then
    local element = M.element_checks[path]
    for i, v in pairs(value) do
      if math.type(i) ~= "integer" or i < 1 or i > #value then
        return nil, path .. " must be a list"
      end
      if type(v) ~= type(template[1]) then
        return nil, ("%s[%d] must be a %s, not a %s"):format(path, i, type(template[1]), type(v))
      end
      if element and not element[2](v) then
        return nil, ("%s[%d] must be %s, not '%s'"):format(path, i, element[1], tostring(v))
      end
    end
    return true
  end
  for k, v in pairs(value) do
    if template[k] == nil and not M.open_maps[join(path, k)] then
      return nil, ("unknown setting '%s'"):format(join(path, k))
    end
    local ok, message = check(join(path, k), v, template[k])
    if not ok then return nil, message end
  end
  return true
end

-- "file:line" of the innermost stack frame running code from FILE, or nil.
local function position_in(file)
  local level = 2
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then return nil end
    if info.source == "@" .. file and info.currentline > 0 then
      return ("%s:%d"):format(file, info.currentline)
    end
    level = level + 1
  end
end

-- A view of REAL that checks every assignment. FAIL(message) raises.
local function checked_view(real, template, path, fail)
  return setmetatable({}, {
    __index = function(_, key)
      local value = real[key]
      if type(value) == "table" and not M.open_maps[join(path, key)] then
        local sub_template = template[key]
        if type(key) == "number" then sub_template = template[1] end
        return checked_view(value, sub_template, join(path, key), fail)
      end
      return value
    end,
    __newindex = function(_, key, value)
      local setting, sub_template = join(path, key), template[key]
      if is_list(template) and #template > 0 then
        if math.type(key) ~= "integer" or key < 1 or key > #real + 1 then
          fail(("%s must stay a list (index %s)"):format(path, tostring(key)))
        end
        setting, sub_template = path, template
        value = { value }
        local ok, message = check(setting, value, sub_template)
        if not ok then fail((message:gsub("%[1%]", "[" .. key .. "]"))) end
        real[key] = deep_copy(value[1])
        return
      end
      if sub_template == nil and not M.open_maps[setting] and not M.open_maps[path] then
        fail(("unknown setting '%s'"):format(setting))
      end
      if not M.open_maps[path] then
        local ok, message = check(setting, value, sub_template)
        if not ok then fail(message) end
      end
      real[key] = deep_copy(value)
    end,
    __len = function() return #real end,
    __pairs = function() return next, real, nil end,
  })
end

-- Merges TABLE over the checked VIEW: maps key by key, everything else
-- (lists included) replaced.
local function merge_into(view, table_, template)
  for key, value in pairs(table_) do
    local sub = template and template[key]
    if type(value) == "table" and type(sub) == "table" and not is_list(sub) then
      merge_into(view[key], value, sub)
    else
      view[key] = value
    end
  end
end

function M.default()
  return deep_copy(require "spec.default")
end

-- Returns the resolved spec and the config's hooks ({plan_editors = {...}}),
-- or nil and a message naming the file and line.
function M.load(config_path)
  config_path = config_path or require("sbx.paths").config_file()
  local spec = M.default()
  local hooks = { plan_editors = {} }
  local file = io.open(config_path, "r")
  if not file then return spec, hooks end
  file:close()

  -- A returned table has no line of its own: its `return` line stands in.
  local return_line
  local failure
  local function fail(message)
    local where = position_in(config_path) or ("%s:%s"):format(config_path, return_line or "?")
    failure = ("%s: %s"):format(where, message)
    error(failure, 0)
  end
  local view = checked_view(spec, M.default(), "", fail)
  local sbx_api = {
    edit_plan = function(fn)
      if type(fn) ~= "function" then fail("sbx.edit_plan expects a function") end
      hooks.plan_editors[#hooks.plan_editors + 1] = fn
    end,
  }
  local env = setmetatable({ spec = view, sbx = sbx_api }, { __index = _G })
  local chunk, syntax_error = loadfile(config_path, "t", env)
  if not chunk then return nil, syntax_error end

  debug.sethook(function()
    local info = debug.getinfo(2, "Sl")
    if info.source == "@" .. config_path then return_line = info.currentline end
  end, "r")
  local ok, result = pcall(chunk, view)
  debug.sethook()
  if not ok then return nil, failure or tostring(result) end
  if result ~= nil then
    if type(result) ~= "table" then
      return nil, ("%s:%s: the config must return a table or nothing, not a %s"):format(
        config_path, return_line or "?", type(result))
    end
    local merged, err = pcall(merge_into, view, result, M.default())
    if not merged then return nil, failure or tostring(err) end
  end
  return spec, hooks
end

return M
