-- Turns a launch plan (sbx run --dry-run) into the bwrap command line that
-- makes the same sandbox, for the side-by-side benchmark. Files the plan
-- creates from contents are written under FILES_DIR and bound read-only,
-- the nearest bwrap equivalent. Prints one argument per line.
-- Usage: sbx lua bench/plan_to_bwrap.lua PLAN.json FILES_DIR
local cjson = require "cjson"

local plan_path, files_dir = arg[1], arg[2]
local plan = cjson.decode(assert(io.open(plan_path)):read("a"))
local out = {}
local function add(...)
  for _, word in ipairs { ... } do out[#out + 1] = tostring(math.tointeger(word) or word) end
end

local unshare = { user = "--unshare-user", pid = "--unshare-pid", ipc = "--unshare-ipc",
  uts = "--unshare-uts", cgroup = "--unshare-cgroup", net = "--unshare-net" }
for _, ns in ipairs(plan.namespaces) do
  if unshare[ns] then add(unshare[ns]) end
end
add("--uid", plan.uid_map.inside, "--gid", plan.gid_map.inside, "--hostname", plan.hostname)
add("--die-with-parent", "--new-session", "--clearenv")

local file_count = 0
for _, op in ipairs(plan.mounts) do
  if op.op == "bind" then
    local flag = op.readonly and "--ro-bind" or "--bind"
    add(op.try and flag .. "-try" or flag, op.source, op.dest)
  elseif op.op == "dev-bind" then
    add(op.try and "--dev-bind-try" or "--dev-bind", op.source, op.dest)
  elseif op.op == "tmpfs" then
    add("--perms", op.mode or "0755", "--tmpfs", op.dest)
  elseif op.op == "proc" then
    add("--proc", op.dest)
  elseif op.op == "dev" then
    add("--dev", op.dest)
  elseif op.op == "dir" then
    add("--perms", op.mode or "0755", "--dir", op.dest)
  elseif op.op == "symlink" then
    add("--symlink", op.target, op.dest)
  elseif op.op == "file" then
    file_count = file_count + 1
    local path = ("%s/file-%d"):format(files_dir, file_count)
    local file = assert(io.open(path, "wb"))
    file:write(op.contents or "")
    file:close()
    add("--ro-bind", path, op.dest)
  elseif op.op == "remount-ro" then
    add("--remount-ro", op.dest)
  else
    error("no bwrap equivalent for mount op " .. tostring(op.op))
  end
end
for _, entry in ipairs(plan.env) do
  local name, value = entry:match("^([^=]+)=(.*)$")
  add("--setenv", name, value)
end
add("--chdir", plan.cwd, "--")
for _, word in ipairs(plan.argv) do add(word) end
io.stdout:write(table.concat(out, "\n"), "\n")
