-- LuaRocks packaging. The build is the project's own Makefile: LuaRocks
-- runs `make all` and `make install PREFIX=<the rock's directory>`, which
-- installs the sbx binary (with its Lua sources embedded) and its links.
rockspec_format = "3.0"
package = "sbx"
version = "scm-1"
source = {
  url = "git+file:///work/main",
}
description = {
  summary = "Run Claude Code in isolated Linux sandboxes and manage them from a dashboard",
  detailed = [[
sbx is a C engine with embedded Lua 5.4: unprivileged namespace sandboxes,
systemd-nspawn containers and QEMU VMs, each with Chromium inside, and a
manager daemon with a REST API, a live dashboard and an SSH-driven CLI.]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  LIBUV = { header = "uv.h" },
  LIBWEBSOCKETS = { header = "libwebsockets.h" },
  CMARK = { header = "cmark.h" },
  TURBOJPEG = { header = "turbojpeg.h" },
}
build = {
  type = "make",
  build_target = "all",
  install_target = "install",
  install_variables = {
    PREFIX = "$(PREFIX)",
  },
}
