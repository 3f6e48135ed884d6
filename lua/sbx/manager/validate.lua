-- Checking a request to create a sandbox: every field, with a message that
-- names it (the API answers 422 with that field).
local paths = require "sbx.paths"
local uv = require "luv"

local M = {}

M.backends = { "bubblewrap", "container", "vm" }
M.networks = { "host", "private", "none" }
M.max_name = 200

local function one_of(list, value)
  for _, item in ipairs(list) do
    if item == value then return true end
  end
  return false
end

local function check_name(name)
  if type(name) ~= "string" or name == "" then return nil, "name is required (a non-empty string)" end
  if #name > M.max_name then return nil, ("name is longer than %d bytes"):format(M.max_name) end
  if name:find("[%c]") then return nil, "name must not hold control characters" end
  if not utf8.len(name) then return nil, "name must be UTF-8" end
  return name
end

-- The project directory, resolved (symlinks followed), or nil and why.
local function check_project_dir(dir)
  if type(dir) ~= "string" or dir == "" then return nil, "project_dir is required (an absolute path)" end
  if dir:sub(1, 1) ~= "/" then return nil, "project_dir must be an absolute path" end
  if dir:find("%z") then return nil, "project_dir must not hold a NUL byte" end
  local real = uv.fs_realpath(dir)
  if not real then return nil, "project_dir does not exist: " .. dir end
  local stat = uv.fs_stat(real)
  if not stat or stat.type ~= "directory" then return nil, "project_dir is not a directory: " .. dir end
  if real == "/" then return nil, "project_dir must not be / (the whole system)" end
  local home = paths.home()
  if home and uv.fs_realpath(home) == real then
    return nil, "project_dir must not be the home directory itself"
  end
  return real
end

-- The original's boolean is accepted: true is the spec's default mode,
-- false is "none".
local function check_network(network, default)
  if network == nil or network == true then return default end
  if network == false then return "none" end
  if type(network) == "string" and one_of(M.networks, network) then return network end
  return nil, "network must be one of host, private, none (or true/false)"
end

-- FIELDS from a JSON body or a form. Returns { name, backend, project_dir,
-- network }, or nil, a message and the field to blame.
function M.check(fields, default_network)
  if type(fields) ~= "table" then return nil, "expected an object", nil end
  local name, name_err = check_name(fields.name)
  if not name then return nil, name_err, "name" end
  local backend = fields.backend
  if not one_of(M.backends, backend) then
    return nil, "backend must be one of bubblewrap, container, vm", "backend"
  end
  local dir, dir_err = check_project_dir(fields.project_dir)
  if not dir then return nil, dir_err, "project_dir" end
  local network = fields.network
  if network == "true" then network = true elseif network == "false" then network = false end
  local mode, network_err = check_network(network, default_network)
  if not mode then return nil, network_err, "network" end
  return { name = name, backend = backend, project_dir = dir, network = mode }
end

return M
