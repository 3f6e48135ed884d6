-- The browser libraries the pages use, from the npm packages pinned in
-- package.json. They are found, in order:
--   <prefix>/share/sbx/vendor/<file>    put there by `make install`
--   <dir>/node_modules/<package file>   for a binary run from the build
--                                       tree, or the tree of SBX_LUA_DIR
-- Read once, then kept in memory.
local fs = require "sbx.fs"
local host = require "sbx.host"
local uv = require "luv"

local M = {}

M.files = {
  ["htmx.min.js"] = { "htmx.org/dist/htmx.min.js", "text/javascript; charset=utf-8" },
  ["xterm.js"] = { "@xterm/xterm/lib/xterm.js", "text/javascript; charset=utf-8" },
  ["xterm.css"] = { "@xterm/xterm/css/xterm.css", "text/css; charset=utf-8" },
  ["addon-fit.js"] = { "@xterm/addon-fit/lib/addon-fit.js", "text/javascript; charset=utf-8" },
}

local cache = {}


-- Where NAME may be, most specific first.
function M.candidates(name)
  local package_path = M.files[name][1]
  local exe_dir = (uv.exepath() or ""):match("^(.*)/[^/]*$") or "."
  local list = { exe_dir .. "/../share/sbx/vendor/" .. name, exe_dir .. "/node_modules/" .. package_path }
  if host.lua_dir then list[#list + 1] = host.lua_dir .. "/node_modules/" .. package_path end
  return list
end

-- { data =, content_type =, etag = } for a known NAME that is installed,
-- else nil.
function M.get(name)
  if not M.files[name] then return nil end
  if cache[name] then return cache[name] end
  for _, path in ipairs(M.candidates(name)) do
    local data = fs.read(path)
    if data then
      local sum = 0
      for i = 1, #data, 64 do sum = (sum * 31 + data:byte(i)) % 4294967296 end
      cache[name] = { data = data, content_type = M.files[name][2],
        etag = ('"%x-%x"'):format(#data, sum) }
      return cache[name]
    end
  end
  return nil
end

return M
