-- Turns a container launch plan (sbx run --backend container --dry-run)
-- into the bare systemd-nspawn command line with the same options, for the
-- side-by-side benchmark: the translation sbx itself makes
-- (lua/sbx/container/nspawn.lua), its root directory and files made once
-- in DIR, and the command run directly as PID 1 instead of through sbx's
-- init. Prints one argument per line.
-- Usage: sbx lua bench/plan_to_nspawn.lua PLAN.json DIR -- COMMAND...
local cjson = require "cjson"
local launch = require "sbx.container.launch"
local launch_dir = require "sbx.container.launch_dir"
local nspawn = require "sbx.container.nspawn"
local paths = require "sbx.paths"
local uv = require "luv"

local plan_path, dir = arg[1], arg[2]
local command = table.move(arg, 3, #arg, 1, {})
assert(plan_path and dir and #command > 0, "usage: plan_to_nspawn.lua PLAN.json DIR -- COMMAND...")
local plan = cjson.decode(assert(io.open(plan_path)):read("a"))
local launch_at = { parent = dir, dir = dir .. "/launch", root = dir .. "/launch/root",
  files = dir .. "/launch/files", machine = ("sbx-bench-%d"):format(uv.os_getpid()) }
local translated = assert(nspawn.translate(plan, {
  nspawn = assert(paths.which("systemd-nspawn")), machine = launch_at.machine, root = launch_at.root,
  files = launch_at.files, sbx = uv.exepath(), kind = launch.kind,
}))
assert(launch_dir.make(launch_at, translated))
local argv = translated.argv
-- Everything after "--" is sbx's init and its plan: the command instead.
local separator
for i, word in ipairs(argv) do
  if word == "--" then separator = i end
end
for i = #argv, separator + 1, -1 do argv[i] = nil end
table.move(command, 1, #command, separator + 1, argv)
io.stdout:write(table.concat(argv, "\n"), "\n")
