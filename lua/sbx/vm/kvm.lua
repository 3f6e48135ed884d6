-- Whether KVM really runs a guest on this host, and so what a VM runs
-- under. /dev/kvm can be there and usable and still not run a guest (a
-- nested host without the CPU's help): only booting one tells, and a
-- failing boot takes seconds, so the answer is kept for the rest of this
-- host's boot.
local async = require "sbx.async"
local cjson = require "cjson"
local fs = require "sbx.fs"
local paths = require "sbx.paths"
local uv = require "luv"

local M = {}

-- A working KVM prints the kernel banner in well under a second.
M.BOOT_TIMEOUT_MS = 8000

-- Boots KERNEL under KVM with no root file system: the banner on the
-- serial console proves the guest ran; it then panics and QEMU exits.
-- true, or false and why not. Waits.
function M.boots(qemu, kernel)
  local result, err = async.execute({
    qemu, "-accel", "kvm", "-cpu", "host", "-M", "microvm", "-m", "128",
    "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
    "-no-reboot", "-kernel", kernel, "-append", "console=ttyS0 panic=-1",
  }, { timeout = M.BOOT_TIMEOUT_MS })
  if not result then return false, err end
  if result.stdout:find("Linux version", 1, true) then return true end
  if result.timed_out then
    return false, ("no kernel banner within %d s"):format(M.BOOT_TIMEOUT_MS // 1000)
  end
  return false, result.stderr:match("([^\n]*%S[^\n]*)") or ("exit " .. tostring(result.code))
end

-- true, or false and why this user cannot use /dev/kvm at all.
function M.usable()
  if not uv.fs_stat("/dev/kvm") then return false, "there is no /dev/kvm" end
  if not uv.fs_access("/dev/kvm", "RW") then return false, "/dev/kvm is not usable by this user" end
  return true
end

local function cache_file() return paths.state_dir() .. "/kvm.json" end

local function boot_id()
  return (fs.read("/proc/sys/kernel/random/boot_id") or ""):match("%S+") or "unknown"
end

-- Boots KERNEL under KVM (M.boots) and keeps the answer for this boot of
-- the host. Waits.
function M.probe(qemu, kernel)
  local works, why = M.boots(qemu, kernel)
  local record = { boot_id = boot_id(), kernel = kernel, works = works, why = why }
  if fs.mkdir_p(paths.state_dir(), tonumber("700", 8)) then
    fs.write_atomic(cache_file(), cjson.encode(record) .. "\n", tonumber("600", 8), { durable = false })
  end
  return works, why
end

-- The answer kept for KERNEL in this boot, or a fresh probe. Waits.
function M.works(qemu, kernel)
  local ok, record = pcall(cjson.decode, fs.read(cache_file()) or "")
  if ok and type(record) == "table" and record.boot_id == boot_id() and record.kernel == kernel
      and type(record.works) == "boolean" then
    return record.works, record.why
  end
  return M.probe(qemu, kernel)
end

-- The host's TSC rate in kHz, as /proc/cpuinfo says ("cpu MHz"), or nil.
function M.tsc_khz()
  local mhz = tonumber((fs.read("/proc/cpuinfo") or ""):match("cpu MHz%s*:%s*([%d.]+)"))
  return mhz and mhz > 0 and math.floor(mhz * 1000 + 0.5) or nil
end

-- What a VM runs under for the spec's SETTING ("auto", "kvm", "tcg"):
-- "kvm" or "tcg" and, for TCG, why; or nil and a message when KVM was
-- asked for and cannot be had. Waits.
function M.choose(setting, qemu, kernel)
  if setting == "tcg" then return "tcg", "the config asks for software emulation (vm.accel)" end
  local usable, why = M.usable()
  local works = usable
  if usable then works, why = M.works(qemu, kernel) end
  if works then return "kvm" end
  why = why and ("KVM does not run a guest here: " .. why) or "KVM does not run a guest here"
  if setting == "kvm" then return nil, why .. " (vm.accel is \"kvm\"; \"auto\" falls back to TCG)" end
  return "tcg", why
end

return M
