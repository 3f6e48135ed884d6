-- The bubblewrap backend as a pure function: made-up hosts in, plans out
-- (its layout, lua/sbx/run/layout.lua, is the container and vm backends' too).
local backend = require "backends.bubblewrap"
local layout = require "sbx.run.layout"
local spec = require "sbx.spec"
local xauth = require "sbx.xauth"

local fake = dofile("tests/lua/support/fake_run.lua")
local HOME, STATE = fake.HOME, fake.STATE
local fake_host, fake_request, ops_at, op_at, env_of = fake.fake_host, fake.fake_request, fake.ops_at, fake.op_at,
  fake.env_of

local function make(request_changes, host_changes)
  return backend.plan(fake_request(request_changes), spec.default(), fake_host(host_changes))
end

describe("the bubblewrap plan", function()
  it("asks for every mandatory namespace, and a network one unless host", function()
    for mode, has_net in pairs { private = true, none = true, host = false } do
      local plan = make { network = mode }
      local set = {}
      for _, ns in ipairs(plan.namespaces) do set[ns] = true end
      for _, ns in ipairs { "user", "mount", "pid", "ipc", "uts", "cgroup" } do assert.truthy(set[ns], ns) end
      assert.equal(has_net, set.net == true, mode)
      assert.equal(mode, plan.network)
    end
  end)

  it("maps the caller's own ids and nothing else", function()
    local plan = make()
    assert.same({ inside = 1000, outside = 1000 }, plan.uid_map)
    assert.same({ inside = 1000, outside = 1000 }, plan.gid_map)
  end)

  it("runs root's sandbox as an ordinary uid inside, mapped to root outside", function()
    local plan = make(nil, { uid = 0, gid = 0, user = "root", home = "/root" })
    assert.same({ inside = 1000, outside = 0 }, plan.uid_map)
    assert.same({ inside = 1000, outside = 0 }, plan.gid_map)
    assert.equal("root:x:1000:1000::/root:/bin/bash\n", op_at(plan, "/etc/passwd").contents)
    assert.equal("/run/user/1000", env_of(plan).XDG_RUNTIME_DIR)
  end)

  it("has only absolute destinations without '..'", function()
    for _, op in ipairs(make().mounts) do
      assert.truthy(op.dest:match("^/"), op.dest)
      assert.falsy(("/" .. op.dest .. "/"):find("/../", 1, true), op.dest)
      if op.source then assert.truthy(op.source:match("^/"), op.source) end
    end
  end)

  it("shows /usr read-only, links /bin and /lib64 as the host does and binds a real /lib32", function()
    local plan = make()
    local usr = op_at(plan, "/usr")
    assert.same({ op = "bind", source = "/usr", dest = "/usr", readonly = true, follow_symlinks = true }, usr)
    assert.same({ op = "symlink", target = "usr/bin", dest = "/bin" }, op_at(plan, "/bin"))
    assert.same({ op = "symlink", target = "usr/lib64", dest = "/lib64" }, op_at(plan, "/lib64"))
    assert.is_true(op_at(plan, "/lib32").readonly)
    assert.equal(0, #ops_at(plan, "/nix/store"))
  end)

  it("on a Nix host shows the store and the daemon socket, with NIX_REMOTE=daemon", function()
    local links = { { path = "/run/current-system", link = "/nix/store/abc-system" } }
    local plan = make(nil, { nix = true, nix_links = links })
    assert.is_true(op_at(plan, "/nix/store").readonly)
    assert.is_true(op_at(plan, "/nix/var/nix/daemon-socket").try)
    assert.same({ op = "symlink", target = "/nix/store/abc-system", dest = "/run/current-system" },
      op_at(plan, "/run/current-system"))
    local env = env_of(plan)
    assert.equal("daemon", env.NIX_REMOTE)
    assert.truthy(env.PATH:find("/run/current-system/sw/bin", 1, true))
  end)

  it("binds the spec's /etc paths read-only and writes its own passwd and group", function()
    local plan = make()
    for _, path in ipairs(spec.default().etc) do
      local op = op_at(plan, path)
      assert.is_true(op.readonly and op.try and op.follow_symlinks, path)
    end
    local passwd = op_at(plan, "/etc/passwd")
    assert.equal("file", passwd.op)
    assert.equal("me:x:1000:1000::/home/me:/bin/bash\n", passwd.contents)
    assert.equal("me:x:1000:\n", op_at(plan, "/etc/group").contents)
    assert.equal(0, #ops_at(plan, "/etc/shadow"))
    assert.equal(0, #ops_at(plan, "/etc"))
  end)

  it("with a private network and a host resolving on its loopback, names pasta's DNS address instead", function()
    local loopback = "# resolved\nnameserver 127.0.0.53\noptions edns0\nsearch lan\n"
    local resolv = op_at(make({ network = "private" }, { resolv_conf = loopback }), "/etc/resolv.conf")
    assert.equal("file", resolv.op)
    assert.truthy(resolv.readonly)
    assert.truthy(resolv.contents:find("\nnameserver 169.254.1.1\n", 1, true), resolv.contents)
    assert.truthy(resolv.contents:find("\noptions edns0\nsearch lan\n", 1, true), resolv.contents)
    assert.falsy(resolv.contents:find("127.0.0.53", 1, true))
    -- The host's file as it is: on the host's network, and with a real resolver.
    assert.equal("bind", op_at(make({ network = "host" }, { resolv_conf = loopback }), "/etc/resolv.conf").op)
    local real = "nameserver 127.0.0.53\nnameserver 192.0.2.1\n"
    assert.equal("bind", op_at(make({ network = "private" }, { resolv_conf = real }), "/etc/resolv.conf").op)
    assert.equal("bind", op_at(make({ network = "private" }, { resolv_conf = nil }), "/etc/resolv.conf").op)
  end)

  it("gives private /tmp, /proc, /dev and a /home tmpfs holding $HOME", function()
    local plan = make()
    assert.same({ op = "tmpfs", dest = "/tmp", mode = "1777" }, op_at(plan, "/tmp"))
    assert.equal("proc", op_at(plan, "/proc").op)
    assert.equal("dev", op_at(plan, "/dev").op)
    assert.equal("tmpfs", op_at(plan, "/home").op)
    assert.equal("tmpfs", op_at(plan, HOME).op)
  end)

  it("follows symbolic links only in host trees no sandbox writes", function()
    local plan = make()
    for _, op in ipairs(plan.mounts) do
      if op.follow_symlinks then
        assert.is_true(op.readonly, op.source)
        assert.falsy(op.source:find(STATE, 1, true) or op.source:find(HOME .. "/.claude", 1, true)
          or op.source:find(HOME .. "/src/proj", 1, true), op.source)
      end
    end
  end)

  it("uses ~/.claude's real path as the source, never following links below it", function()
    local plan = make(nil, { claude_dir = "/data/dotfiles/claude" })
    assert.equal("/data/dotfiles/claude", op_at(plan, HOME .. "/.claude").source)
    assert.equal("/data/dotfiles/claude/settings.json", op_at(plan, HOME .. "/.claude/settings.json").source)
  end)

  it("keeps a tmux sandbox alive after its client detaches, and no other", function()
    assert.equal("entry", make().lifetime)
    assert.equal("all", make({ tmux = true }).lifetime)
    assert.equal("entry", make({ tmux = true, join = true }).lifetime)
    assert.is_true(make().die_with_parent)
    assert.is_false(make({ tmux = true }).die_with_parent)
    assert.is_true(make({ tmux = true, join = true }).die_with_parent)
  end)

  it("writes read-write only to the project, ~/.claude and the state directory's parts", function()
    local plan = make()
    local allowed = { [HOME .. "/src/proj"] = true, [HOME .. "/.claude"] = true }
    for _, bind in ipairs(layout.state_binds) do allowed[STATE .. "/" .. bind[1]] = true end
    for _, op in ipairs(plan.mounts) do
      if op.op == "bind" and not op.readonly then
        assert.truthy(allowed[op.source], "read-write bind of " .. op.source)
      end
    end
  end)

  it("binds the project read-write at its own path, last, as the working directory", function()
    local plan = make()
    local op, index = op_at(plan, HOME .. "/src/proj")
    assert.same({ op = "bind", source = HOME .. "/src/proj", dest = HOME .. "/src/proj" }, op)
    assert.equal(#plan.mounts, index)
    assert.equal(HOME .. "/src/proj", plan.cwd)
  end)

  it("keeps what the host Claude obeys read-only, over the read-write ~/.claude", function()
    local plan = make()
    local claude, claude_index = op_at(plan, HOME .. "/.claude")
    assert.is_nil(claude.readonly)
    assert.is_nil(claude.try)
    for _, name in ipairs { "settings.json", "settings.local.json", "hooks", "commands", "agents", "CLAUDE.md" } do
      local op, index = op_at(plan, HOME .. "/.claude/" .. name)
      assert.is_true(op.readonly, name)
      assert.is_nil(op.try, name .. " must exist, or the sandbox could create it")
      assert.truthy(index > claude_index, name .. " comes after ~/.claude")
    end
  end)

  it("seeds ~/.claude.json by copy, never by bind", function()
    local op = op_at(make(), HOME .. "/.claude.json")
    assert.equal("file", op.op)
    assert.equal('{"numStartups": 3}', op.contents)
    assert.equal("0600", op.mode)
    assert.falsy(op.readonly)
    assert.equal(0, #ops_at(make(nil, { claude_json = false }), HOME .. "/.claude.json"))
  end)

  it("shows git and ssh configuration read-only when present", function()
    local plan = make()
    for _, path in ipairs { ".gitconfig", ".config/git", ".ssh", ".config/gh" } do
      local op = op_at(plan, HOME .. "/" .. path)
      assert.is_true(op.readonly and op.try and op.follow_symlinks, path)
    end
  end)

  it("binds the state directory's parts to ~/.local, the profile and the tmux socket", function()
    local plan = make()
    assert.equal(STATE .. "/local/bin", op_at(plan, HOME .. "/.local/bin").source)
    assert.equal(STATE .. "/local/lib", op_at(plan, HOME .. "/.local/lib").source)
    assert.equal(STATE .. "/local/share", op_at(plan, HOME .. "/.local/share").source)
    assert.equal(STATE .. "/chromium", op_at(plan, HOME .. "/.config/chromium").source)
    assert.equal(STATE .. "/tmux", op_at(plan, "/run/sbx/tmux").source)
    for _, op in ipairs(plan.mounts) do
      assert.falsy(op.dest:find(HOME .. "/src/proj/", 1, true), "nothing of sbx's inside the project")
    end
  end)

  it("builds the environment from nothing", function()
    local env = env_of(make())
    assert.equal(HOME, env.HOME)
    assert.equal("screen", env.TERM)
    assert.equal("de_DE.UTF-8", env.LANG)
    assert.equal("sk-test", env.ANTHROPIC_API_KEY)
    assert.equal("1", env.CLAUDE_SANDBOX)
    assert.equal("bubblewrap", env.CLAUDE_SANDBOX_BACKEND)
    assert.equal("/run/user/1000", env.XDG_RUNTIME_DIR)
    assert.truthy(env.PATH:match("^/run/sbx/bin:"))
    for _, name in ipairs { "SECRET_THING", "GH_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY",
      "DBUS_SESSION_BUS_ADDRESS", "SSH_AUTH_SOCK", "DISPLAY" } do
      assert.is_nil(env[name], name)
    end
  end)

  it("passes GH_TOKEN and GITHUB_TOKEN only with --gh-token", function()
    local env = env_of(make { gh_token = true })
    assert.equal("ghp_secret", env.GH_TOKEN)
    assert.equal("gh_secret", env.GITHUB_TOKEN)
    assert.is_nil(env.SECRET_THING)
  end)

  it("forwards the X11 socket of $DISPLAY with a wildcard cookie", function()
    local cookie = string.rep("\171", 16)
    local xauthority = xauth.encode {
      { family = 256, address = "myhost", number = "7", name = "MIT-MAGIC-COOKIE-1", data = cookie },
      { family = 256, address = "myhost", number = "3", name = "MIT-MAGIC-COOKIE-1", data = "other" },
    }
    local plan = make(nil, { env = { DISPLAY = ":7.0" }, xauthority = xauthority })
    local socket = op_at(plan, "/tmp/.X11-unix/X7")
    assert.same({ op = "bind", source = "/tmp/.X11-unix/X7", dest = "/tmp/.X11-unix/X7", readonly = true, try = true },
      socket, "a socket in the shared /tmp is never reached through a link")
    local file = op_at(plan, HOME .. "/.Xauthority")
    local entries = xauth.parse(file.contents)
    assert.equal(1, #entries)
    assert.same({ family = 0xffff, address = "", number = "7", name = "MIT-MAGIC-COOKIE-1", data = cookie }, entries[1])
    local env = env_of(plan)
    assert.equal(":7.0", env.DISPLAY)
    assert.equal(HOME .. "/.Xauthority", env.XAUTHORITY)
  end)

  it("forwards Wayland, PipeWire, PulseAudio, the GPU and the system bus when present", function()
    local plan = make(nil, { env = { WAYLAND_DISPLAY = "wayland-1", XDG_RUNTIME_DIR = "/run/user/1000" } })
    assert.equal("/run/user/1000/wayland-1", op_at(plan, "/run/user/1000/wayland-1").source)
    assert.equal("wayland-1", env_of(plan).WAYLAND_DISPLAY)
    assert.is_true(op_at(plan, "/run/user/1000/pipewire-0").try)
    assert.is_true(op_at(plan, "/run/user/1000/pulse/native").try)
    assert.equal("dev-bind", op_at(plan, "/dev/dri").op)
    assert.is_true(op_at(plan, "/run/opengl-driver").try)
    assert.is_true(op_at(plan, "/run/dbus/system_bus_socket").try)
  end)

  it("never gives root's sandbox the system bus, where host uid 0 is obeyed", function()
    local plan = make(nil, { uid = 0, gid = 0, user = "root", home = "/root" })
    assert.equal(0, #ops_at(plan, "/run/dbus/system_bus_socket"))
  end)

  it("keeps read-only everything under ~/.claude that the host Claude obeys", function()
    local plan = make()
    for _, name in ipairs { "settings.json", "settings.local.json", "hooks", "commands", "agents",
      "CLAUDE.md", "skills", "plugins", "output-styles" } do
      assert.is_true(op_at(plan, HOME .. "/.claude/" .. name).readonly, name)
    end
  end)

  it("gives the session bus only through the filtering proxy", function()
    local without = make(nil, { env = { DBUS_SESSION_BUS_ADDRESS = "unix:path=/run/user/1000/bus" } })
    assert.is_nil(env_of(without).DBUS_SESSION_BUS_ADDRESS)
    assert.equal(0, #ops_at(without, "/run/user/1000/bus"))
    local with = make({ dbus_proxy = STATE .. "/bus" })
    assert.equal(STATE .. "/bus", op_at(with, "/run/user/1000/bus").source)
    assert.equal("unix:path=/run/user/1000/bus", env_of(with).DBUS_SESSION_BUS_ADDRESS)
  end)

  it("forwards the SSH agent socket", function()
    local plan = make(nil, { env = { SSH_AUTH_SOCK = "/tmp/ssh-x/agent.1" } })
    assert.equal("/tmp/ssh-x/agent.1", op_at(plan, "/run/user/1000/ssh-agent").source)
    assert.equal("/run/user/1000/ssh-agent", env_of(plan).SSH_AUTH_SOCK)
  end)

  it("gives Chromium the spec's policy, its own sandbox and no session bus", function()
    local plan = make()
    local policy = require("cjson").decode(op_at(plan, "/etc/chromium/policies/managed/sbx.json").contents)
    assert.same(spec.default().chromium.extensions, policy.ExtensionInstallForcelist)
    assert.equal(0, policy.BrowserSignin)
    local wrapper = op_at(plan, "/run/sbx/bin/chromium")
    assert.equal("0755", wrapper.mode)
    assert.truthy(wrapper.contents:find("unset DBUS_SESSION_BUS_ADDRESS", 1, true))
    assert.truthy(wrapper.contents:find("exec /usr/bin/chromium", 1, true))
    assert.falsy(require("cjson").encode(plan):find("no-sandbox", 1, true))
  end)

  it("runs Claude with the notice and the user's arguments", function()
    local plan = make { args = { "-p", "hello" } }
    assert.same({ "/usr/local/bin/claude", "--append-system-prompt", spec.default().notice, "-p", "hello" }, plan.argv)
  end)

  it("mounts Claude Code read-only when /usr does not hold it", function()
    local plan = make(nil, { claude = { path = HOME .. "/.local/bin/claude",
      real = HOME .. "/.local/share/claude/versions/2.1.3", root = HOME .. "/.local/share/claude/versions" } })
    local op = op_at(plan, "/run/sbx/claude")
    assert.same({ op = "bind", source = HOME .. "/.local/share/claude/versions", dest = "/run/sbx/claude",
      readonly = true }, op)
    assert.equal("/run/sbx/claude/2.1.3", plan.argv[1])
  end)

  it("runs bash with --shell", function()
    assert.same({ "bash", "-c", "true" }, make({ shell = true, args = { "-c", "true" } }).argv)
  end)

  it("runs Claude in the tmux session sandbox:<project> with --tmux, and attaches when joining", function()
    local plan = make { tmux = true }
    assert.same({ "tmux", "-S", "/run/sbx/tmux/socket", "-f", "/run/sbx/tmux.conf", "new-session",
      "-s", "sandbox", "-n", "proj", "--", "/usr/local/bin/claude", "--append-system-prompt",
      spec.default().notice }, plan.argv)
    assert.truthy(op_at(plan, "/run/sbx/tmux.conf").contents:find("colour208", 1, true))
    assert.same({ "tmux", "-S", "/run/sbx/tmux/socket", "attach-session", "-t", "sandbox" },
      make({ tmux = true, join = true }).argv)
  end)

  it("lists the seccomp rules, the limits and the terminal mode", function()
    local plan = make { terminal = "stdio" }
    assert.same({ "TIOCSTI", "TIOCLINUX", "TIOCSETD" }, plan.seccomp.ioctls)
    for _, name in ipairs { "keyctl", "add_key", "request_key", "mount", "bpf" } do
      assert.truthy(table.concat(plan.seccomp.syscalls, " "):find(name, 1, true), name)
    end
    assert.same({ core = 0 }, plan.limits)
    assert.equal("stdio", plan.terminal)
  end)
end)
