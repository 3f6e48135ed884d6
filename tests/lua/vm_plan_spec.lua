-- The vm backend as pure functions: made-up hosts in; the guest's plan,
-- QEMU's own sandbox, its command line and the guest agent's config out.
local backend = require "backends.vm"
local guest_config = require "sbx.vm.guest_config"
local qemu = require "sbx.vm.qemu"
local spec = require "sbx.spec"

local fake = dofile("tests/lua/support/fake_run.lua")
local HOME = fake.HOME
local op_at, ops_at, env_of = fake.op_at, fake.ops_at, fake.env_of

local function make(request_changes, host_changes)
  return backend.plan(fake.fake_request(request_changes), spec.default(), fake.fake_host(host_changes))
end

local FACTS = { runtime = "/state/vm/0a1b2c", accel = "tcg", tsc_khz = 2600000, host = fake.fake_host() }

local function facts(changes)
  local copy = {}
  for k, v in pairs(FACTS) do copy[k] = v end
  for k, v in pairs(changes or {}) do copy[k] = v end
  return copy
end

local function words(argv)
  return " " .. table.concat(argv, " ") .. " "
end

describe("the vm plan", function()
  it("holds what every sandbox holds, as the guest sees it", function()
    local plan = make()
    assert.equal("vm", plan.backend)
    local usr = op_at(plan, "/usr")
    assert.same({ "bind", "/usr", true }, { usr.op, usr.source, usr.readonly })
    local project = op_at(plan, HOME .. "/src/proj")
    assert.falsy(project.readonly)
    assert.equal(HOME .. "/src/proj", plan.cwd)
    assert.truthy(op_at(plan, HOME .. "/.claude/settings.json").readonly)
    assert.truthy(op_at(plan, HOME .. "/.claude/hooks").readonly)
    assert.falsy(op_at(plan, HOME .. "/.claude").readonly)
    assert.equal("bind", op_at(plan, HOME .. "/.local/bin").op)
    assert.equal("me:x:1000:1000::/home/me:/bin/bash\n", op_at(plan, "/etc/passwd").contents)
  end)

  it("runs the user as itself inside, and root's as uid 1000", function()
    assert.same({ inside = 1000, outside = 1000 }, make().uid_map)
    local plan = make(nil, { uid = 0, gid = 0, user = "root" })
    assert.same({ inside = 1000, outside = 0 }, plan.uid_map)
    assert.same({ inside = 1000, outside = 0 }, plan.gid_map)
  end)

  it("gives the guest QEMU's resolver, and none without a network", function()
    local resolv = op_at(make(), "/etc/resolv.conf")
    assert.same({ "file", backend.guest_resolv_conf, true }, { resolv.op, resolv.contents, resolv.readonly })
    assert.equal(0, #ops_at(make { network = "none" }, "/etc/resolv.conf"))
    local loopback_host = make(nil, { resolv_conf = "nameserver 127.0.0.53\n" })
    assert.equal(backend.guest_resolv_conf, op_at(loopback_host, "/etc/resolv.conf").contents)
  end)

  it("keeps tmux's socket in the guest's own /run, not on a host share", function()
    local tmux = op_at(make(), "/run/sbx/tmux")
    assert.same({ "dir", "0700" }, { tmux.op, tmux.mode })
  end)

  it("gives the guest none of the host's display, sound, buses or SSH agent", function()
    local plan = make(nil, { env = { DISPLAY = ":5", WAYLAND_DISPLAY = "wayland-0", SSH_AUTH_SOCK = "/tmp/agent",
      DBUS_SESSION_BUS_ADDRESS = "unix:path=/run/user/1000/bus" } })
    for _, op in ipairs(plan.mounts) do
      assert.is_not.equal("dev-bind", op.op)
      -- The host's sockets are all under /tmp and /run.
      assert.falsy(op.source and (op.source:match("^/tmp/") or op.source:match("^/run/")), op.source)
    end
    local env = env_of(plan)
    assert.is_nil(env.DISPLAY)
    assert.is_nil(env.SSH_AUTH_SOCK)
    assert.is_nil(env.DBUS_SESSION_BUS_ADDRESS)
  end)

  it("builds the environment from nothing; tokens only with --gh-token", function()
    local env = env_of(make())
    assert.equal("vm", env.CLAUDE_SANDBOX_BACKEND)
    assert.equal("sk-test", env.ANTHROPIC_API_KEY)
    assert.is_nil(env.SECRET_THING)
    assert.is_nil(env.GH_TOKEN)
    assert.equal("ghp_secret", env_of(make { gh_token = true }).GH_TOKEN)
  end)

  it("says what QEMU boots, from the spec and the host", function()
    local vm = make(nil, { env = { SBX_QMP_SOCKET = "/srv/manager/qmp/1.sock" } }).vm
    assert.same({ "/boot/vmlinuz-6.1.0-test", "/lib/modules/6.1.0-test", 2048, 2, "auto", "/srv/manager/qmp/1.sock" },
      { vm.kernel, vm.modules, vm.memory_mb, vm.cpus, vm.accel, vm.qmp_socket })
    local missing = make(nil, { guest_kernel = { error = "no kernel" } }).vm
    assert.is_nil(missing.kernel)
    assert.equal("no kernel", missing.kernel_error)
  end)

  it("runs a tmux server for as long as it lives, joined with attach", function()
    local plan = make { tmux = true }
    assert.equal("all", plan.lifetime)
    assert.equal("new-session", plan.argv[6])
    local joined = make { tmux = true, join = true }
    assert.equal("entry", joined.lifetime)
    assert.equal("attach-session", joined.argv[4])
  end)
end)

describe("QEMU's own sandbox", function()
  it("has every namespace, and a network one unless the network is the host's", function()
    for mode, has_net in pairs { private = true, none = true, host = false } do
      local host_plan = qemu.host_plan(make { network = mode }, facts())
      local set = {}
      for _, ns in ipairs(host_plan.namespaces) do set[ns] = true end
      for _, ns in ipairs { "user", "mount", "pid", "ipc", "uts", "cgroup" } do assert.truthy(set[ns], ns) end
      assert.equal(has_net, set.net == true, mode)
    end
  end)

  it("passes the engine's checks", function()
    local host_plan = qemu.host_plan(make(), facts())
    assert.truthy(require("sbx.sandbox").check(host_plan))
  end)

  it("exports the guest's read-only binds read-only, also beneath a writable one", function()
    local host_plan = qemu.host_plan(make(), facts())
    local usr = op_at(host_plan, "/export/ro/usr")
    assert.same({ "/usr", true }, { usr.source, usr.readonly })
    assert.equal(0, #ops_at(host_plan, "/export/rw/usr"), "not beneath a writable bind: one export is enough")
    local claude = op_at(host_plan, "/export/rw" .. HOME .. "/.claude")
    assert.falsy(claude.readonly)
    for _, tree in ipairs { "/export/ro", "/export/rw" } do
      local settings, index = op_at(host_plan, tree .. HOME .. "/.claude/settings.json")
      assert.truthy(settings.readonly, tree)
      if tree == "/export/rw" then
        local _, claude_index = op_at(host_plan, "/export/rw" .. HOME .. "/.claude")
        assert.truthy(index > claude_index, "the read-only bind comes over the writable one")
      end
    end
    assert.falsy(op_at(host_plan, "/export/rw" .. HOME .. "/src/proj").readonly)
    assert.equal(0, #ops_at(host_plan, "/export/ro" .. HOME .. "/src/proj"))
  end)

  it("sees its runtime directory and the kernel, /dev/kvm only under KVM", function()
    local host_plan = qemu.host_plan(make(), facts())
    local runtime = op_at(host_plan, qemu.runtime)
    assert.same({ FACTS.runtime, false }, { runtime.source, runtime.readonly or false })
    assert.same({ "/boot/vmlinuz-6.1.0-test", true }, { op_at(host_plan, qemu.kernel).source,
      op_at(host_plan, qemu.kernel).readonly })
    assert.equal(0, #ops_at(host_plan, "/dev/kvm"))
    assert.equal("dev-bind", op_at(qemu.host_plan(make(), facts { accel = "kvm" }), "/dev/kvm").op)
  end)

  it("maps ids as the guest's user sees them: root's files belong to uid 1000", function()
    local host_plan = qemu.host_plan(make(nil, { uid = 0, gid = 0 }), facts())
    assert.same({ inside = 1000, outside = 0 }, host_plan.uid_map)
  end)
end)

describe("QEMU's command line", function()
  it("boots the kernel under the chosen accelerator with QEMU's own seccomp filter", function()
    local argv = qemu.argv(make(), facts())
    local line = words(argv)
    assert.equal("qemu-system-x86_64", argv[1])
    assert.truthy(line:find(" -M microvm,accel=tcg -cpu max ", 1, true))
    assert.truthy(line:find(" -m 2048 -smp 2 ", 1, true))
    assert.truthy(line:find(" -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny ",
      1, true))
    assert.truthy(line:find(" -kernel " .. qemu.kernel .. " ", 1, true))
    assert.truthy(line:find("tsc_early_khz=2600000", 1, true))
    local kvm = words(qemu.argv(make(), facts { accel = "kvm" }))
    assert.truthy(kvm:find(" -M microvm,accel=kvm -cpu host ", 1, true))
    assert.falsy(kvm:find("tsc_early_khz", 1, true))
  end)

  it("exports the read-only tree with readonly=on, the other without", function()
    local line = words(qemu.argv(make(), facts()))
    assert.truthy(line:find("local,id=ro,path=/export/ro,security_model=none,multidevs=remap,readonly=on ", 1, true))
    assert.truthy(line:find("local,id=rw,path=/export/rw,security_model=none,multidevs=remap ", 1, true))
  end)

  it("gives the guest a network card only when it has a network", function()
    assert.truthy(words(qemu.argv(make { network = "private" }, facts())):find(" -netdev user,id=net0 ", 1, true))
    assert.truthy(words(qemu.argv(make { network = "host" }, facts())):find(" -netdev user,id=net0 ", 1, true))
    local none = words(qemu.argv(make { network = "none" }, facts()))
    assert.falsy(none:find("netdev", 1, true))
    assert.falsy(none:find("net-device", 1, true))
  end)

  it("has the control port, a port per joinable session, a screen and QMP in the runtime directory", function()
    local line = words(qemu.argv(make(), facts()))
    assert.truthy(line:find("path=/run/sbx-vm/control.sock,server=on,wait=off", 1, true))
    for n = 1, qemu.sessions do
      assert.truthy(line:find(("name=sbx.session.%d "):format(n), 1, true), n)
    end
    assert.truthy(line:find(" -device virtio-gpu-device ", 1, true))
    assert.truthy(line:find(" -qmp unix:/run/sbx-vm/qmp.sock,server=on,wait=off ", 1, true))
  end)

  it("listens for QMP at the manager's socket, whose directory it shares at the same path", function()
    local plan = make(nil, { env = { SBX_QMP_SOCKET = "/srv/manager/qmp/1/qmp.sock" } })
    assert.truthy(words(qemu.argv(plan, facts())):find(" -qmp unix:/srv/manager/qmp/1/qmp.sock,server=on,wait=off ",
      1, true))
    local shared = op_at(qemu.host_plan(plan, facts()), "/srv/manager/qmp/1")
    assert.equal("/srv/manager/qmp/1", shared.source)
    assert.falsy(shared.readonly)
    assert.equal(0, #ops_at(qemu.host_plan(make(), facts()), "/srv/manager/qmp/1"))
  end)
end)

describe("the manager's QMP socket", function()
  local runtime = require "sbx.vm.runtime"
  local uv = require "luv"
  local scratch = dofile("tests/lua/support/scratch.lua")
  teardown(scratch.clean)
  local me = uv.getuid()

  it("is accepted in a directory of the caller's alone, and refused elsewhere, saying why", function()
    local dir = scratch.dir()
    assert(uv.fs_chmod(dir, tonumber("700", 8)))
    assert.is_true(runtime.check_qmp_socket(dir .. "/qmp.sock", me))
    local ok, err = runtime.check_qmp_socket(dir .. "/missing/qmp.sock", me)
    assert.is_nil(ok)
    assert.matches("must exist", err)
    assert(uv.fs_chmod(dir, tonumber("777", 8)))
    ok, err = runtime.check_qmp_socket(dir .. "/qmp.sock", me)
    assert.is_nil(ok)
    assert.matches("yours alone", err)
    assert(uv.fs_chmod(dir, tonumber("700", 8)))
    assert.is_nil((runtime.check_qmp_socket(dir .. "/qmp.sock", me + 1)))
    assert.is_nil((runtime.check_qmp_socket("qmp.sock", me)))
  end)
end)

describe("the guest agent's config", function()
  local function config_of(plan) return assert(guest_config.build(plan, { "kernel/a/virtio.ko" })) end

  it("says who, where and what, in the plan's order", function()
    local plan = make()
    local text, files = config_of(plan)
    assert.truthy(text:find("\nuser 1000 1000\n", 1, true))
    assert.truthy(text:find("\nnetwork user\n", 1, true))
    assert.truthy(text:find("\nmodule /sbx/modules/virtio.ko\n", 1, true))
    assert.truthy(text:find("\nshare ro ro loose\nshare rw rw mmap\n", 1, true))
    assert.truthy(text:find("\nbind /usr ro ro must\n", 1, true))
    local claude = text:find("\nbind " .. HOME .. "/.claude rw rw must\n", 1, true)
    local settings = text:find("\nbind " .. HOME .. "/.claude/settings.json ro ro must\n", 1, true)
    assert.truthy(claude and settings and claude < settings)
    local n = text:match("\nfile /etc/passwd /sbx/files/(%d+) 0644 ro\n")
    assert.equal(op_at(plan, "/etc/passwd").contents, files[tonumber(n)].data)
    assert.equal("/sbx/files/" .. n, files[tonumber(n)].path)
    assert.truthy(text:find("\nnetwork none\n", 1, true) == nil)
    assert.truthy(config_of(make { network = "none" }):find("\nnetwork none\n", 1, true))
  end)

  it("percent-encodes what is not a plain word", function()
    local plan = make()
    table.insert(plan.mounts, { op = "dir", dest = "/tmp/a b%c\n", mode = "0755" })
    assert.truthy(config_of(plan):find("\ndir /tmp/a%20b%25c%0A 0755\n", 1, true))
  end)

  it("refuses what a VM cannot do", function()
    for _, case in ipairs {
      { { op = "dev-bind", source = "/dev/dri", dest = "/dev/dri" }, "a VM cannot be given the host's devices" },
      { { op = "file", dest = "/etc/x", fd = 7 }, "given by contents, not by a descriptor" },
      { { op = "dir", dest = "/x", mode = "rwx" }, "mode rwx is not octal" },
      { { op = "dir", dest = "relative" }, "no absolute dest" },
      { { op = "teleport", dest = "/x" }, "unknown mount operation teleport" },
    } do
      local plan = make()
      table.insert(plan.mounts, case[1])
      local text, err = guest_config.build(plan, {})
      assert.is_nil(text)
      assert.matches(case[2], err, 1, true)
    end
  end)
end)
