-- The kernel a VM guest boots: the host's own, so its modules (9p, virtio)
-- are on the host to copy into the guest's initramfs.
local uv = require "luv"

local M = {}

local function release()
  local uname = uv.os_uname()
  return uname and uname.release
end

-- Returns {kernel, modules, release} for the best guest kernel, or nil and
-- why. Prefers the running kernel's release, then the newest in /boot.
function M.find_kernel()
  local candidates = {}
  local running = release()
  if running then candidates[#candidates + 1] = running end
  local dir = uv.fs_scandir("/boot")
  local others = {}
  while dir do
    local name = uv.fs_scandir_next(dir)
    if not name then break end
    local version = name:match("^vmlinuz%-(.+)$")
    if version and version ~= running then others[#others + 1] = version end
  end
  table.sort(others, function(a, b) return a > b end)
  table.move(others, 1, #others, #candidates + 1, candidates)
  local unreadable
  for _, version in ipairs(candidates) do
    local kernel = "/boot/vmlinuz-" .. version
    local modules = "/lib/modules/" .. version
    if uv.fs_stat(kernel) and uv.fs_stat(modules) then
      if uv.fs_access(kernel, "R") then
        return { kernel = kernel, modules = modules, release = version }
      end
      unreadable = unreadable or kernel
    end
  end
  if unreadable then
    return nil, unreadable .. " is not readable by this user (Debian installs kernels 0600)"
  end
  return nil, "no /boot/vmlinuz-* with a matching /lib/modules directory"
end

return M
