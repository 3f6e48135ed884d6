-- The host programs sandboxes use: found, and their versions.
local async = require "sbx.async"
local paths = require "sbx.paths"

-- The first non-empty line a program prints for ARGS, or nil.
local function version_of(path, args)
  local argv = { path }
  table.move(args, 1, #args, 2, argv)
  local result = async.execute(argv, { timeout = 10000 })
  if not result or result.timed_out then return nil end
  local text = result.stdout ~= "" and result.stdout or result.stderr
  return text:match("([^\n]*%S[^\n]*)")
end

local function tool_check(spec)
  return {
    id = spec.id,
    title = spec.title,
    run = function()
      local path = paths.which(spec.program)
      if not path then
        return { status = spec.missing or "fail", summary = spec.program .. " is not installed; " .. spec.role,
          fix = spec.fix }
      end
      local version = spec.version_args and version_of(path, spec.version_args)
      local summary = path .. (version and (" (" .. version .. ")") or "")
      return { status = "ok", summary = summary, path = path, version = version }
    end,
  }
end

return {
  {
    id = "pasta",
    title = "pasta",
    run = function()
      local path = paths.which("pasta")
      if not path then
        return { status = "warn", fix = "apt-get install passt",
          summary = "pasta is not installed: --network private is unavailable and sbx run "
            .. "falls back to host networking" }
      end
      local names, err = require("sbx.run.network").probe()
      if not names then
        return { status = "warn", path = path, fix = "sbx run --network host or none work without it",
          summary = path .. " cannot give a sandbox its network: " .. err }
      end
      return { status = "ok", path = path, works = true,
        summary = ("%s gives a fresh network namespace its network (%s)"):format(path, table.concat(names, ", ")) }
    end,
  },
  tool_check {
    id = "xvfb", title = "Xvfb", program = "Xvfb",
    role = "the manager cannot give sandboxes a display",
    fix = "apt-get install xvfb", missing = "warn",
  },
  tool_check {
    id = "tmux", title = "tmux", program = "tmux", version_args = { "-V" },
    role = "sbx run --tmux and the manager need it",
    fix = "apt-get install tmux",
  },
  tool_check {
    id = "chromium", title = "Chromium", program = "chromium", version_args = { "--version" },
    role = "sandboxes have no browser",
    fix = "apt-get install chromium", missing = "warn",
  },
  tool_check {
    id = "dbus-proxy", title = "xdg-dbus-proxy", program = "xdg-dbus-proxy", version_args = { "--version" },
    role = "the D-Bus session bus (Secret Service) is not forwarded into sandboxes",
    fix = "apt-get install xdg-dbus-proxy", missing = "warn",
  },
  {
    id = "spec-tools",
    title = "spec tools",
    run = function()
      local missing = {}
      local spec = require("sbx.spec").load()
      for _, tool in ipairs(spec and spec.tools or {}) do
        if not paths.which(tool) then missing[#missing + 1] = tool end
      end
      if #missing == 0 then
        return { status = "ok", summary = "every tool the spec lists is on PATH" }
      end
      return { status = "warn", summary = "not on this host, so not in sandboxes: " .. table.concat(missing, ", "),
        missing = missing }
    end,
  },
}
