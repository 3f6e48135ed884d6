-- sbx ps: the sandboxes running on this host for this user.
local registry = require "sbx.run.registry"

local function mode_of(entry)
  local what = entry.shell and "shell" or "claude"
  return entry.tmux and what .. "+tmux" or what
end

return {
  summary = "list the sandboxes running on this host",
  usage = "ps [--json]",
  description = "Each is checked to be alive (its init's pid and start time); entries of\n"
    .. "sandboxes that ended are removed.",
  options = {
    { name = "--json", help = "print a JSON list" },
  },
  run = function(values, positional)
    if #positional > 0 then return nil, "takes no arguments", 2 end
    local entries, problems = registry.list()
    for _, problem in ipairs(problems) do io.stderr:write("sbx ps: ", problem, "\n") end
    if values.json then
      local list = {}
      for i, entry in ipairs(entries) do
        list[i] = { project = entry.project, id = entry.id, pid = entry.pid, network = entry.network,
          mode = mode_of(entry), started = entry.started }
      end
      io.stdout:write(#list == 0 and "[]" or require("cjson").encode(list), "\n")
      return 0
    end
    if #entries == 0 then
      io.stdout:write("no sandboxes running\n")
      return 0
    end
    io.stdout:write(("%-8s  %-8s  %-12s  %-19s  %s\n"):format("PID", "NETWORK", "MODE", "STARTED", "PROJECT"))
    for _, entry in ipairs(entries) do
      io.stdout:write(("%-8d  %-8s  %-12s  %-19s  %s\n"):format(entry.pid, entry.network or "?",
        mode_of(entry), os.date("%Y-%m-%d %H:%M:%S", entry.started or 0), entry.project))
    end
    return 0
  end,
}
