-- Unprivileged user namespaces: the ground the bubblewrap backend stands on.
local fs = require "sbx.fs"
local probe = require "sbx.probe"

local function sysctl(name)
  local value = fs.read("/proc/sys/" .. name)
  return value and value:match("^%s*(.-)%s*$")
end

-- Reasons the kernel's settings give, when the probe failed.
local function explain()
  if sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1" then
    return "AppArmor restricts unprivileged user namespaces "
      .. "(kernel.apparmor_restrict_unprivileged_userns = 1, as on Ubuntu 23.10 and later)",
      "add an AppArmor profile granting 'userns' to the sbx binary, or run "
      .. "'sysctl kernel.apparmor_restrict_unprivileged_userns=0'"
  end
  if sysctl("kernel/unprivileged_userns_clone") == "0" then
    return "kernel.unprivileged_userns_clone = 0",
      "sysctl kernel.unprivileged_userns_clone=1"
  end
  if sysctl("user/max_user_namespaces") == "0" then
    return "user.max_user_namespaces = 0", "sysctl user.max_user_namespaces=15000"
  end
end

return {
  {
    id = "userns",
    title = "user namespaces",
    essential = true,
    run = function()
      local ok, stage, message = probe.userns()
      local who = require("luv").getuid() == 0
        and ("uid %d, as an unprivileged user would"):format(probe.unprivileged_id) or "this user"
      if ok then
        return { status = "ok", summary = "unprivileged user namespaces work (tested as " .. who .. ")" }
      end
      if ok == nil then return { status = "fail", summary = stage } end
      local reason, fix = explain()
      return {
        status = "fail",
        summary = ("an unprivileged user namespace fails at %s: %s%s"):format(
          stage, message, reason and (" (" .. reason .. ")") or ""),
        fix = fix or "enable unprivileged user namespaces in the kernel",
      }
    end,
  },
}
