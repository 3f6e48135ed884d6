-- The VM backend: QEMU, a guest kernel, and whether KVM really runs a guest.
local async = require "sbx.async"
local guest = require "sbx.guest"
local kvm = require "sbx.vm.kvm"
local paths = require "sbx.paths"
local uv = require "luv"

local QEMU = "qemu-system-x86_64"

return {
  {
    id = "qemu",
    title = "QEMU",
    run = function()
      local path = paths.which(QEMU)
      if not path then
        return { status = "warn", summary = QEMU .. " is not installed: the vm backend is unavailable",
          fix = "apt-get install qemu-system-x86" }
      end
      local result = async.execute({ path, "--version" }, { timeout = 10000 })
      local version = result and result.stdout:match("version (%S+)")
      return { status = "ok", summary = ("%s (%s)"):format(path, version or "version unknown"),
        path = path, version = version }
    end,
  },
  {
    id = "guest-kernel",
    title = "guest kernel",
    run = function()
      local found, err = guest.find_kernel()
      if not found then
        return { status = "warn", summary = err .. ": the vm backend cannot boot",
          fix = "apt-get install linux-image-amd64, and make /boot/vmlinuz-* readable" }
      end
      return { status = "ok", summary = ("%s with modules in %s"):format(found.kernel, found.modules),
        path = found.kernel }
    end,
  },
  {
    id = "kvm",
    title = "KVM",
    run = function()
      if not uv.fs_stat("/dev/kvm") then
        return { status = "warn", summary = "no /dev/kvm: VMs run under software emulation (slow)" }
      end
      if not uv.fs_access("/dev/kvm", "RW") then
        return { status = "warn", summary = "/dev/kvm is not usable by this user: VMs use software emulation",
          fix = "add the user to the 'kvm' group" }
      end
      local qemu = paths.which(QEMU)
      local found = guest.find_kernel()
      if not qemu or not found then
        return { status = "warn", summary = "/dev/kvm exists; untested, as QEMU or a guest kernel is missing" }
      end
      local ok, why = kvm.probe(qemu, found.kernel)
      if ok then return { status = "ok", summary = "/dev/kvm runs a guest", works = true } end
      return { status = "warn", works = false,
        summary = "/dev/kvm exists but cannot run an ordinary guest (" .. why
          .. "): VMs use software emulation (slow)" }
    end,
  },
}
