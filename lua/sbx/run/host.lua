-- What the backends need to know about this host, read once so
-- that the backend itself stays a pure function (tests hand it made-up
-- facts). Reads only; creates nothing.
local claude = require "sbx.claude"
local fs = require "sbx.fs"
local paths = require "sbx.paths"
local uv = require "luv"

local M = {}

-- Top-level names that are links into /usr on merged-/usr systems and real
-- directories elsewhere.
M.root_names = { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" }

-- On Nix hosts: links into the store that a sandbox needs to find programs.
M.nix_links = { "/run/current-system", "/bin/sh", "/usr/bin/env" }

local function root_entries(names)
  local entries = {}
  for _, name in ipairs(names) do
    local stat = uv.fs_lstat(name)
    if stat and stat.type == "link" then
      entries[#entries + 1] = { path = name, link = uv.fs_readlink(name) }
    elseif stat and stat.type == "directory" then
      entries[#entries + 1] = { path = name }
    end
  end
  return entries
end

-- The directory to mount so that the claude at PATH runs: an npm package
-- needs its whole package directory, a single binary only its own.
local function claude_install(path)
  local real_path = uv.fs_realpath(path)
  if not real_path then return nil end
  local package_root = real_path:match("^(.*/node_modules/@anthropic%-ai/claude%-code)/")
  local root = package_root or fs.dirname(real_path)
  return { path = path, real = real_path, root = root }
end

local function guest_kernel()
  local found, err = require("sbx.guest").find_kernel()
  return found or { error = err }
end

function M.gather()
  local passwd = uv.os_get_passwd()
  local home = paths.home()
  local env = uv.os_environ()
  local claude_path = claude.find()
  local xauthority = env.XAUTHORITY or home .. "/.Xauthority"
  local nix = uv.fs_stat("/nix/store") ~= nil
  return {
    uid = uv.getuid(),
    gid = uv.getgid(),
    user = passwd.username,
    home = home,
    env = env,
    nix = nix,
    root_entries = root_entries(M.root_names),
    nix_links = nix and root_entries(M.nix_links) or {},
    claude = claude_path and claude_install(claude_path) or nil,
    chromium = paths.which("chromium"),
    xauthority = fs.read(xauthority),
    claude_json = fs.read(home .. "/.claude.json"),
    claude_dir = uv.fs_realpath(home .. "/.claude") or home .. "/.claude",
    -- Where the host resolves names (lua/sbx/run/dns.lua).
    resolv_conf = fs.read("/etc/resolv.conf"),
    -- For the vm backend: {kernel, modules, release}, or {error = why not}.
    guest_kernel = guest_kernel(),
  }
end

return M
