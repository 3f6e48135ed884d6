-- sbx doctor
local async = require "sbx.async"
local doctor = require "sbx.doctor"

return {
  summary = "tell what this host can and cannot do for sbx, why, and how to fix it",
  usage = "doctor [--json] [--fix [--quiet]]",
  description = "Checks unprivileged user namespaces (actually making one), pasta, Xvfb,\n"
    .. "tmux, Chromium, Claude Code, systemd-nspawn, QEMU with a guest kernel,\n"
    .. "KVM (actually booting a guest, with a short timeout) and xdg-dbus-proxy.\n"
    .. "Exits 1 when something essential is broken.",
  options = {
    { name = "--json", help = "print the report as JSON" },
    { name = "--fix", help = "install what sbx can install itself (Claude Code from npm)" },
    { name = "--quiet", help = "with --fix: print only what was installed" },
  },
  run = function(values, positional)
    if #positional > 0 then return nil, "takes no arguments", 2 end
    if values.quiet and not values.fix then return nil, "--quiet only goes with --fix", 2 end
    return async.run(function()
      local checks = doctor.all_checks()
      local report = doctor.run(checks)
      if values.fix then
        for _, line in ipairs(doctor.fix(checks, report)) do io.stdout:write(line, "\n") end
        if values.quiet then return doctor.exit_code(report) end
      end
      if values.json then
        io.stdout:write(require("cjson").encode(report), "\n")
      else
        io.stdout:write(doctor.render(report))
      end
      return doctor.exit_code(report)
    end)
  end,
}
