-- Kernel modules a guest needs, in an order the kernel can load them: each
-- after what it depends on, from the kernel's own modules.dep. Pure: the
-- files' text in, paths (relative to /lib/modules/<release>) out.
local M = {}

-- A module's name as the kernel knows it: "virtio-gpu" and "virtio_gpu"
-- are one module.
function M.name(path)
  return (path:match("([^/]+)%.ko[%.%w]*$") or path):gsub("%-", "_")
end

-- modules.dep ("kernel/a.ko: kernel/b.ko kernel/c.ko") as name -> {path,
-- deps = {paths}}.
function M.parse_dep(text)
  local map = {}
  for line in text:gmatch("[^\n]+") do
    local path, deps = line:match("^([^:]+):%s*(.*)$")
    if path then
      local list = {}
      for dep in deps:gmatch("%S+") do list[#list + 1] = dep end
      map[M.name(path)] = { path = path, deps = list }
    end
  end
  return map
end

-- modules.builtin as a set of names: asked for, they need no loading.
function M.parse_builtin(text)
  local set = {}
  for line in (text or ""):gmatch("[^\n]+") do set[M.name(line)] = true end
  return set
end

-- The paths to load for WANTED (names), dependencies first, each once; or
-- nil and the name of a module this kernel has neither as a file nor built
-- in.
function M.load_order(dep_map, builtin, wanted)
  local order, done = {}, {}
  local by_path = {}
  for _, info in pairs(dep_map) do by_path[info.path] = info end
  local function visit(info)
    if done[info.path] then return end
    done[info.path] = true
    for _, dep in ipairs(info.deps) do
      visit(by_path[dep] or { path = dep, deps = {} })
    end
    order[#order + 1] = info.path
  end
  for _, name in ipairs(wanted) do
    local key = M.name(name)
    local info = dep_map[key]
    if info then visit(info)
    elseif not builtin[key] then return nil, ("the guest kernel has no module %s"):format(name) end
  end
  return order
end

return M
