-- Name resolution in a sandbox with a network of its own (--network
-- private). The host's resolver is often on the host's own loopback
-- (systemd-resolved's 127.0.0.53, a local dnsmasq), which a separate
-- network namespace cannot reach, and which sbx keeps out of reach on
-- purpose. pasta maps one address to the host's first resolver, for UDP
-- port 53 only (--dns-forward); a sandbox whose host resolves on loopback
-- gets a resolv.conf naming that address. Pure.
local M = {}

-- Link-local, so never the address of a real resolver.
M.forward_address = "169.254.1.1"

local function is_loopback(address)
  return address:match("^127%.") ~= nil or address == "::1"
end

-- Whether RESOLV_CONF (the text of the host's /etc/resolv.conf) names
-- nameservers and every one is a loopback address.
function M.only_loopback(resolv_conf)
  local found = false
  for line in (resolv_conf or ""):gmatch("[^\n]+") do
    local address = line:match("^%s*nameserver%s+(%S+)")
    if address then
      if not is_loopback(address) then return false end
      found = true
    end
  end
  return found
end

-- What a process in a namespace pasta connects sees as /etc/resolv.conf,
-- given the host's RESOLV_CONF: the host's own text with its nameservers
-- replaced by the forwarded address (search domains and options kept)
-- when the host resolves on loopback only; nil when the host's file serves
-- as it is.
function M.private_resolv_conf(resolv_conf)
  if not M.only_loopback(resolv_conf) then return nil end
  local lines = { "# sbx: the host resolves on its loopback; pasta forwards this address to it",
    "nameserver " .. M.forward_address }
  for line in resolv_conf:gmatch("[^\n]+") do
    if not line:match("^%s*nameserver%s") then lines[#lines + 1] = line end
  end
  return table.concat(lines, "\n") .. "\n"
end

return M
