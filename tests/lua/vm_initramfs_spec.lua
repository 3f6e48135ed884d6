-- The initramfs writer, proven by GNU cpio reading its archives back, and
-- the guest kernel modules it carries, in an order the kernel can load.
local initramfs = require "sbx.vm.initramfs"
local modules = require "sbx.vm.modules"
local uv = require "luv"

local function run(command)
  local pipe = assert(io.popen(command, "r"))
  local out = pipe:read("a")
  local ok = pipe:close()
  return out, ok
end

local function have_cpio() return select(2, run("command -v cpio >/dev/null")) end

describe("the initramfs writer", function()
  local dir
  before_each(function() dir = assert(uv.fs_mkdtemp("/tmp/sbx-initramfs-XXXXXX")) end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  local function write(archive)
    local file = assert(io.open(dir .. "/a.cpio", "wb"))
    file:write(archive)
    file:close()
    return dir .. "/a.cpio"
  end

  local archive = initramfs.archive {
    { path = "init", kind = "file", mode = tonumber("700", 8), data = "#!/bin/sh\n" },
    { path = "sbx/files/1", kind = "file", mode = tonumber("600", 8), data = ("odd"):rep(7) },
    { path = "sbx/empty", kind = "file", mode = tonumber("644", 8) },
    { path = "bin", kind = "symlink", target = "usr/bin" },
    { path = "dev/console", kind = "char", mode = tonumber("600", 8), major = 5, minor = 1 },
  }

  it("is newc: 110-byte headers, names and data padded to 4 bytes, a trailer", function()
    assert.equal("070701", archive:sub(1, 6))
    assert.equal(0, #archive % 4)
    assert.truthy(archive:find("TRAILER!!!\0", 1, true))
  end)

  it("lists, parents first, what it was given, as GNU cpio reads it", function()
    if not have_cpio() then return pending("cpio is not installed (apt-get install cpio)") end
    local path = write(archive)
    local names, ok = run(("cpio -it --quiet < '%s'"):format(path))
    assert.truthy(ok, names)
    assert.equal("init\nsbx\nsbx/files\nsbx/files/1\nsbx/empty\nbin\ndev\ndev/console\n", names)
    local listing = run(("cpio -itv --quiet < '%s'"):format(path))
    assert.matches("^%-rwx%-%-%-%-%-%- ", listing)
    assert.truthy(listing:find("\nlrwxrwxrwx .* bin %-> usr/bin\n"))
    assert.truthy(listing:find("crw%-%-%-%-%-%-%- +1 root +root +5, +1"))
  end)

  it("holds the bytes it was given", function()
    if not have_cpio() then return pending("cpio is not installed (apt-get install cpio)") end
    local path = write(archive)
    local _, ok = run(("cd '%s' && mkdir x && cd x && cpio -id --quiet --no-absolute-filenames "
      .. "--nonmatching 'dev/*' < '%s'"):format(dir, path))
    assert.truthy(ok)
    assert.equal("#!/bin/sh\n", require("sbx.fs").read(dir .. "/x/init"))
    assert.equal(("odd"):rep(7), require("sbx.fs").read(dir .. "/x/sbx/files/1"))
    assert.equal("usr/bin", uv.fs_readlink(dir .. "/x/bin"))
  end)

  it("refuses paths that are absolute, climb, hold a NUL, or come twice", function()
    for _, path in ipairs { "/init", "a/../b", "a\0b", "", "./x" } do
      assert.has_error(function() initramfs.archive { { path = path, kind = "file" } } end)
    end
    assert.has_error(function()
      initramfs.archive { { path = "a", kind = "file" }, { path = "a", kind = "file" } }
    end)
    assert.has_error(function() initramfs.archive { { path = "l", kind = "symlink" } } end)
  end)
end)

describe("guest kernel modules", function()
  local dep = table.concat({
    "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko",
    "kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko",
    "kernel/fs/netfs/netfs.ko:",
    "kernel/net/9p/9pnet.ko:",
    "kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio.ko "
      .. "kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio_ring.ko:",
    "kernel/drivers/gpu/drm/virtio/virtio-gpu.ko: kernel/drivers/virtio/virtio.ko",
  }, "\n")

  it("come after what they depend on, each once", function()
    local order = assert(modules.load_order(modules.parse_dep(dep), {}, { "9pnet_virtio", "9p", "virtio-gpu" }))
    local at = {}
    for i, path in ipairs(order) do
      assert.is_nil(at[path], "twice: " .. path)
      at[path] = i
    end
    assert.equal(8, #order)
    assert.truthy(at["kernel/drivers/virtio/virtio_ring.ko"] < at["kernel/drivers/virtio/virtio.ko"])
    assert.truthy(at["kernel/net/9p/9pnet.ko"] < at["kernel/net/9p/9pnet_virtio.ko"])
    assert.truthy(at["kernel/fs/netfs/netfs.ko"] < at["kernel/fs/fscache/fscache.ko"])
    assert.truthy(at["kernel/fs/fscache/fscache.ko"] < at["kernel/fs/9p/9p.ko"])
  end)

  it("need no loading when built in, and are reported when missing", function()
    local builtin = modules.parse_builtin("kernel/drivers/char/virtio_console.ko\n")
    assert.same({}, assert(modules.load_order(modules.parse_dep(dep), builtin, { "virtio_console" })))
    local order, err = modules.load_order(modules.parse_dep(dep), builtin, { "virtio_net" })
    assert.is_nil(order)
    assert.equal("the guest kernel has no module virtio_net", err)
  end)

  it("are found for a real VM in this host's kernel, when it has one", function()
    local found = require("sbx.guest").find_kernel()
    if not found then return pending("no guest kernel on this host") end
    local plan = { network = "private", vm = { modules = found.modules } }
    local order = assert(require("sbx.vm.image").module_paths(plan))
    local names = {}
    for _, path in ipairs(order) do names[modules.name(path)] = true end
    for _, name in ipairs { "virtio_mmio", "virtio_console", "9p", "9pnet_virtio", "virtio_gpu", "virtio_net" } do
      local builtin = modules.parse_builtin(require("sbx.fs").read(found.modules .. "/modules.builtin"))
      assert.truthy(names[name] or builtin[name], name)
    end
  end)
end)
