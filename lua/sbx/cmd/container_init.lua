-- sbx container-init PLAN-FILE: the first process of a container sandbox,
-- which systemd-nspawn starts for `sbx run --backend container`. It reads
-- the process part of the launch plan (lua/sbx/container/nspawn.lua writes
-- it) and becomes the sandbox's init through the engine (sandbox.adopt):
-- it waits for sbx run's go, makes the sandbox's own user namespace, then
-- starts the entry, hardened with the engine's seccomp filter (ioctls
-- included, which nspawn cannot filter), and supervises it.
local cjson = require "cjson"
local fs = require "sbx.fs"

return {
  summary = "internal: the first process of a container sandbox (sbx run starts it)",
  usage = "container-init PLAN-FILE",
  options = {},
  run = function(_, positional)
    if #positional ~= 1 then return nil, "expected the plan file", 2 end
    local text, err = fs.read(positional[1])
    if not text then return nil, err, 1 end
    local ok, plan = pcall(cjson.decode, text)
    if not ok or type(plan) ~= "table" then return nil, positional[1] .. " is not a plan", 1 end
    local _, failure = require("sbx.sandbox").adopt(plan)
    return nil, failure, 1
  end,
}
