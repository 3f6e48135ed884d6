-- File helpers on luv's synchronous fs calls. Failures of the world return
-- nil, a message and the error name, as luv does.
local uv = require "luv"

local M = {}

-- Creates DIR and its missing parents with MODE (default 0700).
function M.mkdir_p(dir, mode)
  mode = mode or tonumber("700", 8)
  local stat = uv.fs_stat(dir)
  if stat then
    if stat.type == "directory" then return true end
    return nil, dir .. " exists and is not a directory", "EEXIST"
  end
  local parent = dir:match("^(.*)/[^/]+/*$")
  if parent and parent ~= "" then
    local ok, err, code = M.mkdir_p(parent, mode)
    if not ok then return nil, err, code end
  end
  local ok, err, code = uv.fs_mkdir(dir, mode)
  if not ok and code ~= "EEXIST" then return nil, err, code end
  return true
end

-- The directory part of PATH: "/a/b" -> "/a", "/a" -> "", "a" -> nil.
function M.dirname(path)
  return path:match("^(.*)/[^/]+$")
end

function M.read(path)
  local file, err, code = io.open(path, "rb")
  if not file then return nil, err, code end
  local data = file:read("a")
  file:close()
  return data
end

-- Replaces PATH with DATA so that a reader, or a crash, sees either the
-- old file or the new one, never a mixture: write a temporary file beside
-- it, fsync, rename over, fsync the directory. OPTIONS.durable = false
-- skips the fsyncs, for files that describe running processes and mean
-- nothing after a crash.
function M.write_atomic(path, data, mode, options)
  local durable = not options or options.durable ~= false
  local dir = path:match("^(.*)/[^/]*$") or "."
  local temporary = ("%s.tmp-%d"):format(path, uv.os_getpid())
  local fd, err, code = uv.fs_open(temporary, "w", mode or tonumber("600", 8))
  if not fd then return nil, err, code end
  local written, write_err, write_code = uv.fs_write(fd, data, 0)
  local synced, sync_err, sync_code = true, nil, nil
  if written and durable then synced, sync_err, sync_code = uv.fs_fsync(fd) end
  uv.fs_close(fd)
  if not written or not synced then
    uv.fs_unlink(temporary)
    return nil, write_err or sync_err, write_code or sync_code
  end
  local renamed, rename_err, rename_code = uv.fs_rename(temporary, path)
  if not renamed then
    uv.fs_unlink(temporary)
    return nil, rename_err, rename_code
  end
  local dir_fd = durable and uv.fs_open(dir, "r", 0)
  if dir_fd then
    uv.fs_fsync(dir_fd)
    uv.fs_close(dir_fd)
  end
  return true
end

-- Removes DIR and everything below it. Links are removed, never followed;
-- a directory on another file system (a mount point) is left, and so is
-- DIR then. Returns true, or nil, a message and the error name.
function M.remove_tree(dir)
  local top = uv.fs_lstat(dir)
  if not top then return true end
  local function remove(path, stat)
    if stat.type ~= "directory" then return uv.fs_unlink(path) end
    if stat.dev ~= top.dev then return nil, path .. " is a mount point", "EBUSY" end
    local scan, err, code = uv.fs_scandir(path)
    if not scan then return nil, err, code end
    while true do
      local name = uv.fs_scandir_next(scan)
      if not name then break end
      local child = path .. "/" .. name
      local child_stat = uv.fs_lstat(child)
      if child_stat then
        local ok, child_err, child_code = remove(child, child_stat)
        if not ok then return nil, child_err, child_code end
      end
    end
    return uv.fs_rmdir(path)
  end
  return remove(dir, top)
end

return M
