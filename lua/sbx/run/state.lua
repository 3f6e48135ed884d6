-- Makes what a launch binds exist on the host, refusing anything that is
-- not what sbx itself made: a symbolic link or a foreign file in the state
-- directory would redirect a bind (say, the Chromium profile onto ~/.ssh).
-- The state directory's root is never visible inside a sandbox; only its
-- parts are, and those are mount points there, which cannot be replaced.
local layout = require "sbx.run.layout"
local fs = require "sbx.fs"
local uv = require "luv"

local M = {}

local PRIVATE = tonumber("700", 8)

-- Makes DIR (whose parent exists) unless it is there; refuses a link, a
-- non-directory, or a directory of another user.
function M.own_dir(dir, uid)
  local stat = uv.fs_lstat(dir)
  if not stat then
    local ok, err, code = uv.fs_mkdir(dir, PRIVATE)
    if not ok and code ~= "EEXIST" then return nil, err end
    stat = uv.fs_lstat(dir)
    if not stat then return nil, dir .. " vanished as it was made" end
  end
  if stat.type == "link" then
    return nil, ("%s is a symbolic link; sbx made a directory there, so something replaced it: "
      .. "remove it and run again"):format(dir)
  end
  if stat.type ~= "directory" then return nil, dir .. " is not a directory" end
  if stat.uid ~= uid then return nil, ("%s belongs to uid %d, not to you"):format(dir, stat.uid) end
  return true
end

-- Creates FILE with CONTENTS unless something (a file, a link) is there.
local function create_if_absent(file, contents)
  if uv.fs_lstat(file) then return true end
  local fd, err, code = uv.fs_open(file, "wx", tonumber("644", 8))
  if not fd then
    if code == "EEXIST" then return true end
    return nil, err
  end
  uv.fs_write(fd, contents, 0)
  uv.fs_close(fd)
  return true
end

-- The per-project state directory and its parts.
function M.prepare_state(project, uid)
  local root = project.state:match("^(.*)/projects/[^/]+$")
  local ok, err = fs.mkdir_p(root .. "/projects", PRIVATE)
  if not ok then return nil, err end
  local dirs = { project.state, project.state .. "/local" }
  for _, bind in ipairs(layout.state_binds) do dirs[#dirs + 1] = project.state .. "/" .. bind[1] end
  for _, dir in ipairs(dirs) do
    ok, err = M.own_dir(dir, uid)
    if not ok then return nil, err end
  end
  return true
end

-- ~/.claude and the read-only parts the backend binds over it: each must
-- exist, or the sandbox could create it and the host Claude would obey it.
function M.prepare_claude(home)
  local dir = home .. "/.claude"
  local ok, err = fs.mkdir_p(dir, PRIVATE)
  if not ok then return nil, err end
  for _, name in ipairs(layout.claude_readonly) do
    local path = dir .. "/" .. name
    local stat = uv.fs_lstat(path)
    if stat and stat.type == "link" then
      -- A sandbox writes in ~/.claude, so nothing there is followed.
      return nil, ("%s is a symbolic link; sbx binds it read-only only as a real file or "
        .. "directory: replace the link with a copy of its target"):format(path)
    end
    if name:match("%.json$") then
      ok, err = create_if_absent(path, "{}\n")
    elseif name:match("%.md$") then
      ok, err = create_if_absent(path, "")
    elseif not uv.fs_lstat(path) then
      ok, err = fs.mkdir_p(path, PRIVATE)
    end
    if not ok then return nil, ("cannot create %s: %s"):format(path, err) end
  end
  return true
end

function M.prepare(request, host)
  local ok, err = M.prepare_state(request.project, host.uid)
  if not ok then return nil, err end
  return M.prepare_claude(host.home)
end

return M
