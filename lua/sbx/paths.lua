-- Where sbx keeps things, following the XDG base directory rules.
local M = {}

-- $HOME, or the password database's idea of it when HOME is unset.
function M.home()
  local home = os.getenv("HOME")
  if home and home:sub(1, 1) == "/" then return home end
  local uv = require "luv"
  return uv.os_get_passwd().homedir
end

local function xdg(variable, fallback)
  local value = os.getenv(variable)
  -- The spec says relative values are invalid and must be ignored.
  if value and value:sub(1, 1) == "/" then return value end
  return M.home() .. "/" .. fallback
end

function M.config_dir() return xdg("XDG_CONFIG_HOME", ".config") .. "/sbx" end
function M.state_dir() return xdg("XDG_STATE_HOME", ".local/state") .. "/sbx" end
function M.data_dir() return xdg("XDG_DATA_HOME", ".local/share") .. "/sbx" end

-- Shared by every user of the machine: where `make deps` run as root puts
-- Claude Code. It is under /usr, which every sandbox sees read-only.
M.system_data_dir = "/usr/local/lib/sbx"

function M.config_file()
  local explicit = os.getenv("SBX_CONFIG")
  if explicit and explicit ~= "" then return explicit end
  return M.config_dir() .. "/config.lua"
end

-- The first directory on $PATH holding an executable NAME, or nil.
function M.which(name)
  local uv = require "luv"
  for dir in (os.getenv("PATH") or "/usr/bin:/bin"):gmatch("[^:]+") do
    local candidate = dir .. "/" .. name
    if dir:sub(1, 1) == "/" and uv.fs_access(candidate, "X") then
      local stat = uv.fs_stat(candidate)
      if stat and stat.type == "file" then return candidate end
    end
  end
end

return M
