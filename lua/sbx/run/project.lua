-- The project a sandbox is for: its real path, checked before anything is
-- created, and the names derived from it (the state directory, the id).
local paths = require "sbx.paths"
local uv = require "luv"

local M = {}

-- Longest project name kept in ids and paths: the D-Bus proxy socket lives
-- under the state directory and a Unix socket path has 108 bytes.
M.max_name_length = 32

-- 64-bit FNV-1a of TEXT as 16 hex digits. It only has to keep two project
-- paths with the same directory name apart; nothing trusts it.
function M.hash(text)
  local h = -3750763034362895579 -- 14695981039346656037 as a signed integer
  for i = 1, #text do
    h = (h ~ text:byte(i)) * 1099511628211
  end
  return ("%016x"):format(h)
end

function M.name_of(real_path)
  local base = real_path:match("([^/]+)/*$") or "root"
  local name = base:gsub("[^%w._-]", "_"):sub(1, M.max_name_length)
  if name:match("^%.") then name = "_" .. name:sub(2) end
  return name
end

-- True when A is B or a directory above it.
local function contains(a, b)
  if a == b then return true end
  local prefix = a == "/" and "/" or a .. "/"
  return b:sub(1, #prefix) == prefix
end
M.contains = contains

local function real(path)
  return uv.fs_realpath(path) or path
end

-- Host paths a project must not contain, because the sandbox would get them
-- read-write: sbx's own config and state (registrations, other projects'
-- state) and what the backend mounts read-only.
function M.protected_paths(home)
  return {
    real(paths.config_dir()), real(paths.state_dir()),
    real(home .. "/.ssh"), real(home .. "/.claude"), real(home .. "/.gnupg"),
    real(home .. "/.config/git"), real(home .. "/.config/gh"),
  }
end

-- Checks PATH (as the user typed it) and returns the project:
--   { path = real path, name = "proj", id = "proj-0123456789ab",
--     state = "<state dir>/projects/<id>" }
-- or nil and a message. Creates nothing.
function M.resolve(path)
  if path == nil or path == "" then return nil, "expected a project directory" end
  local stat = uv.fs_stat(path)
  if not stat then return nil, ("%s does not exist"):format(path) end
  if stat.type ~= "directory" then return nil, ("%s is not a directory"):format(path) end
  local real_path, err = uv.fs_realpath(path)
  if not real_path then return nil, ("cannot resolve %s: %s"):format(path, err) end
  local home = real(paths.home())
  if real_path == "/" then return nil, "refusing to sandbox / (the whole file system)" end
  if real_path == home then
    return nil, ("refusing to sandbox your home directory %s itself: pick a project inside it"):format(home)
  end
  if contains(real_path, home) then
    return nil, ("refusing to sandbox %s: it contains your home directory"):format(real_path)
  end
  for _, protected in ipairs(M.protected_paths(home)) do
    if contains(real_path, protected) then
      return nil, ("refusing to sandbox %s: it contains %s, which a sandbox must not write"):format(
        real_path, protected)
    end
    if contains(protected, real_path) and (protected == real(paths.state_dir())
        or protected == real(paths.config_dir())) then
      return nil, ("refusing to sandbox %s: it is inside sbx's own %s"):format(real_path, protected)
    end
  end
  local name = M.name_of(real_path)
  local id = name .. "-" .. M.hash(real_path):sub(1, 12)
  return {
    path = real_path,
    name = name,
    id = id,
    state = paths.state_dir() .. "/projects/" .. id,
  }
end

return M
