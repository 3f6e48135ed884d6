-- Finding and installing Claude Code, the program every sandbox runs.
local async = require "sbx.async"
local paths = require "sbx.paths"
local uv = require "luv"

local M = {}

-- Pinned, so a new release cannot change what the tests and users get
-- without a commit here. To upgrade: change it and run `sbx doctor --fix`.
M.npm_package = "@anthropic-ai/claude-code"
M.npm_version = "2.1.332"

-- Where `sbx doctor --fix` installs it: the shared place when run as root
-- (every user and every sandbox sees /usr), the user's own otherwise.
function M.install_dir()
  if uv.getuid() == 0 then return paths.system_data_dir .. "/claude-code" end
  return paths.data_dir() .. "/claude-code"
end

local function executable(path)
  return path and uv.fs_access(path, "X") and path or nil
end

local function installed_in(dir)
  return executable(dir .. "/node_modules/.bin/claude")
end

-- Returns the path of the claude to run and how it was found, or nil and
-- the places looked at.
function M.find()
  local explicit = os.getenv("SBX_CLAUDE")
  if explicit and explicit ~= "" then
    if executable(explicit) then return explicit, "$SBX_CLAUDE" end
    return nil, ("$SBX_CLAUDE is %s, which is not an executable file"):format(explicit)
  end
  local on_path = paths.which("claude")
  if on_path then return on_path, "PATH" end
  local user_dir = paths.data_dir() .. "/claude-code"
  local found = installed_in(user_dir)
  if found then return found, "sbx data directory" end
  local system_dir = paths.system_data_dir .. "/claude-code"
  found = installed_in(system_dir)
  if found then return found, "sbx system directory" end
  return nil, ("not on PATH, not in %s, not in %s"):format(user_dir, system_dir)
end

-- The version line `claude --version` prints, or nil and why. Waits.
function M.version(path)
  local result, err = async.execute({ path, "--version" }, { timeout = 20000 })
  if not result then return nil, err end
  if result.timed_out then return nil, "claude --version did not answer in 20 s" end
  if result.code ~= 0 then
    return nil, ("claude --version exited with %d: %s"):format(result.code, result.stderr)
  end
  return (result.stdout:match("^%s*(.-)%s*$"))
end

-- Installs the pinned package with npm into M.install_dir(). Waits.
-- Returns the claude path, or nil and why.
function M.install()
  local npm = paths.which("npm")
  if not npm then return nil, "npm is not installed (apt-get install npm)" end
  local dir = M.install_dir()
  local ok, err = require("sbx.fs").mkdir_p(dir, tonumber("755", 8))
  if not ok then return nil, err end
  local result, spawn_err = async.execute({
    npm, "install", "--prefix", dir, "--no-fund", "--no-audit", "--loglevel=error",
    M.npm_package .. "@" .. M.npm_version,
  }, { timeout = 600000 })
  if not result then return nil, spawn_err end
  if result.code ~= 0 then
    return nil, ("npm install failed (%s): %s"):format(
      result.timed_out and "timed out" or "exit " .. result.code, result.stderr)
  end
  local claude = installed_in(dir)
  if not claude then return nil, "npm succeeded but " .. dir .. "/node_modules/.bin/claude is missing" end
  return claude
end

return M
