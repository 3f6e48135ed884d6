-- sbx spec: the sandbox spec after the user's config.
local spec = require "sbx.spec"
local paths = require "sbx.paths"

return {
  summary = "print the resolved sandbox spec (defaults plus your config)",
  usage = "spec [--json] [--config FILE]",
  description = "The spec is spec/default.lua with ~/.config/sbx/config.lua (or\n"
    .. "$SBX_CONFIG) applied. An error in the config is reported with its file\n"
    .. "and line.",
  options = {
    { name = "--json", help = "print JSON instead of Lua" },
    { name = "--config", value = "FILE", help = "read this config instead of " .. paths.config_file() },
  },
  run = function(values, positional)
    if #positional > 0 then return nil, "takes no arguments", 2 end
    local resolved, err = spec.load(values.config)
    if not resolved then return nil, err, 1 end
    if values.json then
      io.stdout:write(require("cjson").encode(resolved), "\n")
    else
      io.stdout:write(require("sbx.pretty").lua(resolved), "\n")
    end
    return 0
  end,
}
