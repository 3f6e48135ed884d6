-- A VM's initramfs: the guest agent as /init, the kernel modules it loads,
-- its config and the plan's files (lua/sbx/vm/guest_config.lua). Private
-- to root inside the guest: the files may hold ~/.claude.json.
local fs = require "sbx.fs"
local guest_config = require "sbx.vm.guest_config"
local initramfs = require "sbx.vm.initramfs"
local modules = require "sbx.vm.modules"
local qemu = require "sbx.vm.qemu"

local M = {}

local PRIVATE = tonumber("600", 8)
local PRIVATE_DIR = tonumber("700", 8)

-- The modules PLAN's guest loads, in order, from its kernel's tree; or nil
-- and a message.
function M.module_paths(plan)
  local dep_text, err = fs.read(plan.vm.modules .. "/modules.dep")
  if not dep_text then return nil, "cannot read the guest kernel's module list: " .. tostring(err) end
  local builtin = modules.parse_builtin(fs.read(plan.vm.modules .. "/modules.builtin"))
  return modules.load_order(modules.parse_dep(dep_text), builtin, qemu.guest_modules(plan))
end

-- The initramfs for PLAN as a string, or nil and a message.
function M.build(plan)
  local order, err = M.module_paths(plan)
  if not order then return nil, err end
  local config, files = guest_config.build(plan, order)
  if not config then return nil, files end
  local entries = {
    { path = "init", kind = "file", mode = PRIVATE_DIR, data = require("sbx.guest_image").agent },
    { path = "dev", kind = "dir", mode = tonumber("755", 8) },
    -- The kernel gives init this console (the serial port, the kernel log).
    { path = "dev/console", kind = "char", mode = PRIVATE, major = 5, minor = 1 },
    { path = "sbx", kind = "dir", mode = PRIVATE_DIR },
    { path = "sbx/config", kind = "file", mode = PRIVATE, data = config },
  }
  for _, path in ipairs(order) do
    local data, read_err = fs.read(plan.vm.modules .. "/" .. path)
    if not data then return nil, ("cannot read the module %s: %s"):format(path, tostring(read_err)) end
    entries[#entries + 1] = { path = guest_config.module_path(path):sub(2), kind = "file", mode = PRIVATE,
      data = data }
  end
  for _, file in ipairs(files) do
    entries[#entries + 1] = { path = file.path:sub(2), kind = "file", mode = PRIVATE, data = file.data }
  end
  return initramfs.archive(entries)
end

return M
