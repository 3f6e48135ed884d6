-- A VM's runtime directory, <project state>/vm/<id>: its initramfs, its
-- kernel log, QEMU's sockets (the sessions' and QMP's) and the locks of
-- joined sessions. Like the rest of the state directory's root, no
-- sandbox sees it; QEMU sees this one directory and nothing beside it.
local fs = require "sbx.fs"
local uv = require "luv"

local M = {}

local function base(project) return project.state .. "/vm" end

-- Makes a fresh one for PROJECT; its path, or nil and a message.
function M.make(project)
  local ok, err = fs.mkdir_p(base(project), tonumber("700", 8))
  if not ok then return nil, err end
  local dir = base(project) .. "/" .. ("%02x"):rep(6):format(uv.random(6):byte(1, 6))
  ok, err = uv.fs_mkdir(dir, tonumber("700", 8))
  if not ok then return nil, err end
  return dir
end

-- Whether DIR is one of PROJECT's runtime directories (a registry entry
-- names it; the registry is ours, but a path is checked before it is used).
function M.belongs(dir, project)
  return type(dir) == "string" and dir:match("^(.*)/[0-9a-f]+$") == base(project)
end

-- Removes DIR and what sbx and QEMU put in it (files and sockets only).
function M.remove(dir)
  local scan = uv.fs_scandir(dir)
  while scan do
    local name, kind = uv.fs_scandir_next(scan)
    if not name then break end
    if kind ~= "directory" then uv.fs_unlink(dir .. "/" .. name) end
  end
  uv.fs_rmdir(dir)
end

-- Removes PROJECT's runtime directories that no running VM uses (VMs that
-- ended without their sbx run, killed).
function M.collect(project, in_use)
  local scan = uv.fs_scandir(base(project))
  while scan do
    local name, kind = uv.fs_scandir_next(scan)
    if not name then break end
    local dir = base(project) .. "/" .. name
    if kind == "directory" and M.belongs(dir, project) and not in_use[dir] then M.remove(dir) end
  end
end

-- Whether SOCKET (the manager's SBX_QMP_SOCKET) may be where QEMU listens:
-- its directory is shared with QEMU, read-write, so it must be UID's own
-- and nobody else's to write. Returns true, or nil and a message.
function M.check_qmp_socket(socket, uid)
  local dir = fs.dirname(socket)
  local stat = dir and dir:sub(1, 1) == "/" and uv.fs_stat(dir)
  if not stat or stat.type ~= "directory" then
    return nil, ("SBX_QMP_SOCKET=%s: its directory must exist"):format(socket)
  end
  if stat.uid ~= uid or stat.mode & tonumber("022", 8) ~= 0 then
    return nil, ("SBX_QMP_SOCKET=%s: its directory is shared with QEMU, so it must be yours alone"):format(socket)
  end
  return true
end

return M
