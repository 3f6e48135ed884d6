-- The container backend: systemd-nspawn, which needs root.
local async = require "sbx.async"
local fs = require "sbx.fs"
local paths = require "sbx.paths"
local uv = require "luv"

local function systemd_is_pid1()
  -- sd_booted()'s test: this directory exists only under systemd as init.
  return uv.fs_stat("/run/systemd/system") ~= nil
    and (fs.read("/proc/1/comm") or ""):match("^systemd") ~= nil
end

return {
  {
    id = "nspawn",
    title = "systemd-nspawn",
    run = function()
      local path = paths.which("systemd-nspawn")
      if not path then
        return { status = "warn", summary = "not installed: the container backend is unavailable",
          fix = "apt-get install systemd-container" }
      end
      local result = async.execute({ path, "--version" }, { timeout = 10000 })
      local version = result and result.stdout:match("^(systemd %d+)") or "version unknown"
      local notes = {}
      if uv.getuid() ~= 0 then notes[#notes + 1] = "needs root (sudo)" end
      if systemd_is_pid1() then
        notes[#notes + 1] = "systemd is PID 1"
      else
        notes[#notes + 1] = "systemd is not PID 1: containers run with --keep-unit --register=no"
      end
      return { status = "ok", summary = ("%s (%s); %s"):format(path, version, table.concat(notes, "; ")),
        path = path, version = version, systemd_pid1 = systemd_is_pid1() }
    end,
  },
}
