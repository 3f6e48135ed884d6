-- Claude Code: where it is and which version.
local claude = require "sbx.claude"

return {
  {
    id = "claude",
    title = "Claude Code",
    fixable = true,
    run = function()
      local path, how = claude.find()
      if not path then
        return { status = "fail", summary = "not found: " .. how,
          fix = "sbx doctor --fix (installs " .. claude.npm_package .. "@" .. claude.npm_version
            .. " into " .. claude.install_dir() .. ")" }
      end
      local version, err = claude.version(path)
      if not version then
        return { status = "fail", summary = path .. " (from " .. how .. ") does not run: " .. err,
          path = path }
      end
      return { status = "ok", summary = ("%s (from %s): %s"):format(path, how, version),
        path = path, version = version }
    end,
    fix = function()
      local path, err = claude.install()
      if not path then return nil, err end
      return "installed " .. claude.npm_package .. "@" .. claude.npm_version .. " as " .. path
    end,
  },
}
