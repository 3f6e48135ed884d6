-- Questions about processes for the shell suites, answered by sbx's own
-- reading of /proc (sbx.proc), so that the suites and the manager agree:
--   procs.lua tree PID           PID and every process below it, one a line
--   procs.lua alive PID START    exits 0 while the process PID that started
--                                at START runs
--   procs.lua under DIR          the processes with an argument that starts
--                                with DIR
local fs = require "sbx.fs"
local proc = require "sbx.proc"

local command, first, second = arg[1], arg[2], arg[3]
if command == "tree" then
  for _, stat in ipairs(proc.tree(proc.all(), { tonumber(first) })) do print(stat.pid) end
elseif command == "alive" then
  local alive = require("sbx.manager.process").alive(tonumber(first), tonumber(second))
  os.exit(alive and 0 or 1)
elseif command == "under" then
  local me = require("luv").os_getpid()
  for _, pid in ipairs(proc.pids()) do
    -- This process has DIR among its own arguments.
    for argument in (fs.read("/proc/" .. pid .. "/cmdline") or ""):gmatch("([^%z]*)%z") do
      if pid ~= me and argument:sub(1, #first) == first then
        print(pid)
        break
      end
    end
  end
else
  error("usage: procs.lua tree PID | alive PID START | under DIR", 0)
end
