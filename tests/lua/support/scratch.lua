-- Scratch directories and files for a spec file, all inside one directory
-- made in /tmp on first use. A spec file loads its own copy (dofile) and
-- calls clean from a file-level teardown, which busted runs when a test
-- failed too: nothing is left in /tmp either way.
local uv = require "luv"

local M = {}
local root, made = nil, 0

-- A new empty directory with MODE (default 0700).
function M.dir(mode)
  if not root then
    root = assert(uv.fs_mkdtemp("/tmp/sbx-spec-XXXXXX"))
    -- Others may need to pass through (a sandbox's user, an unprivileged
    -- test user); what is below keeps its own mode.
    assert(uv.fs_chmod(root, tonumber("755", 8)))
  end
  made = made + 1
  local dir = ("%s/%d"):format(root, made)
  assert(uv.fs_mkdir(dir, mode or tonumber("700", 8)))
  return dir
end

-- A path named NAME (default "file") where nothing is yet, in a new
-- directory.
function M.path(name)
  return M.dir() .. "/" .. (name or "file")
end

-- Removes PATH and everything below it.
function M.remove(path)
  os.execute(("rm -rf '%s'"):format(path))
end

function M.clean()
  if root then M.remove(root) end
  root = nil
end

return M
