-- The sandbox spec: the one place that says WHAT every sandbox holds.
-- Backends decide HOW to deliver it. ~/.config/sbx/config.lua may change any
-- of it (see lua/sbx/spec.lua for the rules and the checks).
return {
  -- Commands a sandbox is expected to have. On Nix hosts they come from the
  -- store; elsewhere from the host's /usr, and `sbx doctor` lists the
  -- missing ones.
  tools = {
    "bash", "git", "ssh", "gh", "tmux", "chromium", "node", "npm", "python3",
    "rg", "curl", "make", "gcc",
  },

  -- Host /etc paths visible read-only inside; the rest of /etc is absent.
  -- passwd and group are written fresh by the backend, not copied.
  etc = {
    "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf",
    "/etc/ssl", "/etc/ca-certificates", "/etc/pki",
    "/etc/localtime", "/etc/timezone", "/etc/zoneinfo", "/etc/locale.conf",
    "/etc/default/locale", "/etc/fonts", "/etc/alternatives",
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
    "/etc/os-release", "/etc/debian_version", "/etc/mime.types",
    "/etc/bash.bashrc", "/etc/profile", "/etc/inputrc", "/etc/terminfo",
    "/etc/gitconfig", "/etc/ssh/ssh_config", "/etc/ssh/ssh_config.d",
    "/etc/chromium.d", "/etc/xdg", "/etc/machine-id",
    "/etc/nix", "/etc/static",
  },

  env = {
    -- Host variables passed through unchanged when set. Everything else
    -- the backend builds itself (HOME, PATH, XDG_RUNTIME_DIR, ...).
    allow = {
      "TERM", "COLORTERM", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE",
      "LC_MESSAGES", "LC_COLLATE", "LC_NUMERIC", "LC_TIME", "TZ",
      "DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE",
      "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL",
      "ANTHROPIC_MODEL",
    },
    -- Passed only when the user asks (`sbx run --gh-token`).
    tokens = { "GH_TOKEN", "GITHUB_TOKEN" },
  },

  chromium = {
    -- Force-installed through the managed policy.
    extensions = {
      "fcoeoabgfenejglbffodgkkbkcdhcgfn", -- Claude in Chrome
    },
    -- Written as /etc/chromium/policies/managed/sbx.json inside; the
    -- extension list above is added as ExtensionInstallForcelist.
    policy = {
      BrowserSignin = 0,
      SyncDisabled = true,
      PasswordManagerEnabled = false,
      MetricsReportingEnabled = false,
      DefaultBrowserSettingEnabled = false,
      BackgroundModeEnabled = false,
    },
  },

  defaults = {
    backend = "bubblewrap",
    -- "private" where pasta works; sbx run falls back to "host" with a
    -- warning elsewhere.
    network = "private",
  },

  -- The vm backend's guest: memory in MiB, virtual CPUs, and how QEMU runs
  -- it: "kvm", "tcg" (software emulation), or "auto": KVM when it really
  -- runs a guest here (tested once per boot), TCG otherwise.
  vm = {
    memory_mb = 2048,
    cpus = 2,
    accel = "auto",
  },

  -- Dollars per million tokens, for the dashboard's cost estimate. A
  -- model's price is the entry whose `model` is the longest prefix of its
  -- name; a model with none is shown as unpriced.
  prices = {
    { model = "claude-opus-4-5", input = 5, output = 25, cache_write = 6.25, cache_read = 0.5 },
    { model = "claude-opus-4", input = 15, output = 75, cache_write = 18.75, cache_read = 1.5 },
    { model = "claude-sonnet-4", input = 3, output = 15, cache_write = 3.75, cache_read = 0.3 },
    { model = "claude-3-7-sonnet", input = 3, output = 15, cache_write = 3.75, cache_read = 0.3 },
    { model = "claude-haiku-4-5", input = 1, output = 5, cache_write = 1.25, cache_read = 0.1 },
    { model = "claude-3-5-haiku", input = 0.8, output = 4, cache_write = 1, cache_read = 0.08 },
  },

  -- Given to Claude with --append-system-prompt.
  notice = [[
You are running inside an sbx sandbox. Only the project directory (your
working directory), ~/.claude and a per-project state directory persist
after the session; /tmp and the rest of the home directory are discarded.
Files under ~/.local (pip --user, npm --prefix ~/.local) persist per project.
Host secrets, other projects and host-only services are not reachable, by
design: do not try to work around the sandbox. A Chromium browser is
available as `chromium`, with its own profile for this project.]],
}
