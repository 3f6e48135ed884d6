-- A container sandbox's directory on the host, in its project's state
-- directory (which no sandbox sees): the root nspawn runs on (mount points
-- only, read-only inside), the plan's files, and the init's plan. It is
-- named after the sbx that made it (pid and start time), so that a later
-- launch can tell a leftover (its maker gone, no running sandbox naming
-- it) from one being made or in use.
--
-- Why not `systemd-nspawn -D / --volatile=yes` (the host's /usr under an
-- empty tmpfs root): with a user namespace, nspawn adjusts the ownership
-- of the directory it is given (--private-users-ownership), which must
-- never be the host's own root; and a read-only root needs its mount
-- points made beforehand, which a root of our own can have.
local cjson = require "cjson"
local fs = require "sbx.fs"
local pidfd = require "sbx.pidfd"
local uv = require "luv"

local M = {}

local PRIVATE = tonumber("700", 8)

function M.parent(project)
  return project.state .. "/containers"
end

-- Where this sbx makes its launch for PROJECT: { parent, dir, root,
-- files, machine }, the machine name being unique among running
-- containers (as its maker's pid and start time are).
function M.for_launch(project)
  local pid = uv.os_getpid()
  local start = pidfd.start_time(pid)
  local dir = ("%s/%d.%d"):format(M.parent(project), pid, start)
  return { parent = M.parent(project), dir = dir, root = dir .. "/root", files = dir .. "/files",
    machine = ("sbx-%s-%d-%d"):format(project.name:gsub("[^%w-]", "-"):sub(1, 24), pid, start) }
end

local function write_file(path, contents, mode)
  local fd, err = uv.fs_open(path, "wx", tonumber(mode, 8))
  if not fd then return nil, err end
  local written, write_err = uv.fs_write(fd, contents, 0)
  uv.fs_close(fd)
  if not written then return nil, write_err end
  -- The umask must not take bits the plan asked for.
  return uv.fs_chmod(path, tonumber(mode, 8))
end

local function make_entry(root, entry)
  local path = root .. entry.path
  if entry.kind == "directory" then
    local ok, err, code = uv.fs_mkdir(path, tonumber(entry.mode, 8))
    if not ok and code ~= "EEXIST" then return nil, err end
    return uv.fs_chmod(path, tonumber(entry.mode, 8))
  elseif entry.kind == "symlink" then
    return uv.fs_symlink(entry.target, path)
  end
  return write_file(path, "", entry.mode)
end

-- Makes LAUNCH (from for_launch) with what TRANSLATED
-- (lua/sbx/container/nspawn.lua) lists: the root's entries, the plan's
-- files and the init's plan. Returns true, or nil and a message.
function M.make(launch, translated)
  local ok, err = fs.mkdir_p(launch.parent, PRIVATE)
  if not ok then return nil, err end
  for _, path in ipairs { launch.dir, launch.files } do
    ok, err = uv.fs_mkdir(path, PRIVATE)
    if not ok then return nil, err end
  end
  ok, err = uv.fs_mkdir(launch.root, tonumber("755", 8))
  if not ok then return nil, err end
  for _, entry in ipairs(translated.skeleton) do
    ok, err = make_entry(launch.root, entry)
    if not ok then return nil, ("making %s in the container's root: %s"):format(entry.path, err) end
  end
  for _, file in ipairs(translated.files) do
    ok, err = write_file(file.path, file.contents, file.mode)
    if not ok then return nil, err end
  end
  -- The sandbox's environment, secrets included: for the init's eyes.
  return write_file(translated.init_file, cjson.encode(translated.init), "0600")
end

-- Removes the launch directories of PROJECT that nothing uses: their maker
-- has ended and no running sandbox of LIVE (registry entries) names them.
function M.sweep(project, live)
  local used = {}
  for _, entry in ipairs(live) do
    if entry.launch_dir then used[entry.launch_dir] = true end
  end
  local scan = uv.fs_scandir(M.parent(project))
  while scan do
    local name = uv.fs_scandir_next(scan)
    if not name then break end
    local pid, start = name:match("^(%d+)%.(%d+)$")
    local dir = M.parent(project) .. "/" .. name
    if pid and not used[dir] and pidfd.start_time(tonumber(pid)) ~= tonumber(start) then
      fs.remove_tree(dir)
    end
  end
end

return M
