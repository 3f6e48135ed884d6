-- Finds the route modules: every web/routes/<name>.lua, in the binary or,
-- with SBX_LUA_DIR, in the tree. Adding a route is adding a file.
local host = require "sbx.host"
local uv = require "luv"

local M = {}

local NAME = "^([%w_]+)%.lua$"

function M.module_names()
  local names = {}
  if host.lua_dir then
    local scan = uv.fs_scandir(host.lua_dir .. "/web/routes")
    while scan do
      local entry = uv.fs_scandir_next(scan)
      if not entry then break end
      local name = entry:match(NAME)
      if name then names[#names + 1] = "web.routes." .. name end
    end
  else
    for _, path in ipairs(host.embedded_paths()) do
      local name = path:match("^web/routes/" .. NAME:sub(2))
      if name then names[#names + 1] = "web.routes." .. name end
    end
  end
  table.sort(names)
  return names
end

-- Loads them: returns the router's route list and the start functions.
function M.load(names)
  local routes, starts = {}, {}
  for _, name in ipairs(names or M.module_names()) do
    local module = require(name)
    assert(type(module) == "table" and type(module.routes) == "table",
      name .. " must return { routes = {...} }")
    for _, route in ipairs(module.routes) do
      routes[#routes + 1] = { route = route, where = name }
    end
    if module.start then starts[#starts + 1] = { start = module.start, where = name } end
  end
  return routes, starts
end

return M
