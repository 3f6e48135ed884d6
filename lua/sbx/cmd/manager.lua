-- sbx manager: the daemon.
local async = require "sbx.async"
local config = require "sbx.manager.config"

local description = [[
Keeps sandboxes running on this host for users who connect from elsewhere:
a REST API, the dashboard and WebSocket log streams, on one event loop.
Each sandbox is `sbx run --new --backend B --network N DIR` in a tmux
session of the manager's own tmux server, with an Xvfb display of its own
that admits only clients showing its cookie (fb/<id>/Xauthority).

Environment (options below override the first three):
  MANAGER_LISTEN       HOST:PORT to listen on (default 127.0.0.1:3000; an IP
                       address, [IPv6]:PORT, or localhost; port 0 picks one)
  MANAGER_STATE_DIR    state directory (default ~/.local/state/sbx/manager):
                       state.json, token, address (for sbx api),
                       sessions.json, logs/<id>.log,
                       fb/<id>/ (Xvfb -fbdir screens), qmp/<id>/ (a VM's
                       QMP socket and screen dumps), tmux.sock, manager.pid
  MANAGER_SOCKET       also listen on this Unix socket (mode 0600; its owner
                       needs no token)
  MANAGER_AUTH         "token" (default) or "none" (no authentication: only
                       on a trusted network; Host must then be an address,
                       localhost or a name in MANAGER_HOSTS)
  MANAGER_ORIGINS      more origins allowed to make state-changing requests
                       (e.g. https://sbx.example.org behind a proxy)
  MANAGER_HOSTS        more Host names allowed with MANAGER_AUTH=none
  MANAGER_PUBLIC_URL   the URL users reach the manager at (login links)
  MANAGER_MAX_BODY     request body limit in bytes (default 1048576)
  MANAGER_ASSETS_DIR   directories (colon-separated) served under /static/
  MANAGER_MONITOR_INTERVAL  milliseconds between liveness checks (5000)

Authentication: at first start a random token is written to
<state>/token (mode 0600); API clients send "Authorization: Bearer <token>".
At each start the manager prints a one-time login link for a browser, which
sets an HttpOnly, SameSite=Strict session cookie. More links:
  curl -X POST -H "Authorization: Bearer $(cat <state>/token)" \
       http://127.0.0.1:3000/api/login-links
Requests that change state must carry no Origin or the manager's own.

REST API (JSON; errors are {"error": "...", "field": "..."}):
  GET    /api/sandboxes              list, newest first
  POST   /api/sandboxes              {name, backend, project_dir, network?}
                                     -> 201 and the sandbox
  GET    /api/sandboxes/<id>         one sandbox
  POST   /api/sandboxes/<id>/stop    -> 204 (ends the session, its processes
                                     and Xvfb)
  DELETE /api/sandboxes/<id>         -> 204 (also removes its log)
  GET    /api/sandboxes/<id>/logs    text/plain
  backend: bubblewrap | container | vm; network: host | private | none
  (true/false as in the Nix original); project_dir: an absolute path to a
  directory other than / and your home. Unknown id 404, malformed JSON 400,
  wrong Content-Type 415, bad field 422 (names it), body too big 413, wrong
  method 405, no credentials 401, foreign Origin 403.
  A sandbox: id, name, backend, project_dir, status (running|stopped|dead),
  display_num, tmux_session, pid_xvfb, qemu_qmp_socket, network, created_at.
  VM sandboxes get their QMP socket as SBX_QMP_SOCKET=<state>/qmp/<id>/qmp.sock;
  QEMU shares that directory and dumps the screen there.

Every 5 s a sandbox whose session ended becomes "dead" and its Xvfb is
stopped. State is written atomically; a state.json that cannot be read is
moved to state.json.corrupt-<time> and reported. SIGTERM or SIGINT stop the
manager and leave the sandboxes running: a new manager finds them again
(attach with: tmux -S <state>/tmux.sock attach -t sandbox-<id>).

As a systemd service: docs/systemd/sbx-manager.service (KillMode=process, so
a restart keeps the sandboxes).]]

return {
  summary = "run the manager daemon: REST API, dashboard and logs for many sandboxes",
  usage = "manager [--listen HOST:PORT] [--state-dir DIR] [--socket PATH]",
  description = description,
  options = {
    { name = "--listen", value = "HOST:PORT", help = "instead of MANAGER_LISTEN" },
    { name = "--state-dir", value = "DIR", help = "instead of MANAGER_STATE_DIR" },
    { name = "--socket", value = "PATH", help = "instead of MANAGER_SOCKET" },
  },
  run = function(values, positional)
    if #positional > 0 then return nil, "takes no arguments", 2 end
    local loaded, err = config.load(os.getenv, {
      listen = values.listen, state_dir = values.state_dir, socket = values.socket,
    })
    if not loaded then return nil, err, 2 end
    return async.run(require("sbx.manager.daemon").run, loaded)
  end,
}
