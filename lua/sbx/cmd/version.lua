-- sbx version
local host = require "sbx.host"

return {
  summary = "print the version of sbx and of what it is built with",
  usage = "version",
  options = {},
  run = function(_, positional)
    if #positional > 0 then return nil, "takes no arguments", 2 end
    local uv = require "luv"
    local sources = host.lua_dir and ("Lua sources from " .. host.lua_dir) or "embedded Lua sources"
    io.stdout:write(("sbx %s (%s; %s, libuv %s)\n"):format(
      host.version, sources, _VERSION, uv.version_string()))
    return 0
  end,
}
