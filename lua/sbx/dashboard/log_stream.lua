-- A sandbox's log over a WebSocket: the backlog, then new bytes as they
-- are written, as binary messages
--
--   "<epoch> <from> <to> <reset>\n" followed by the bytes [from, to)
--
-- A client that reconnects with ?epoch=E&pos=P gets the bytes after P
-- and nothing twice. reset is 1 when the client must clear its screen
-- first (a first connection, or an epoch that is no longer the tailer's);
-- from > P means bytes were skipped (the log outran the ring).
local hub = require "sbx.dashboard.log_hub"

local M = {}

M.max_message = 256 * 1024

-- Where to start for a client that says QUERY: its own position when it
-- is still meaningful, else the start of the backlog.
function M.starting_position(viewer, query)
  local start, finish = viewer.range()
  local wanted = query.pos and tonumber(query.pos)
  if query.epoch == viewer.epoch and wanted and math.type(wanted) == "integer" and
      wanted >= 0 and wanted <= finish then
    return math.max(wanted, start), false
  end
  return start, true
end

-- Streams the log at PATH to WS until either side goes away. Returns true,
-- or nil and a message when the log cannot be followed.
function M.serve(ws, path, query)
  local viewer, flush, err
  local position, reset, waiting_for_drain = 0, true, false
  flush = function()
    -- Subscribing pumps the log once, before the viewer is ours.
    while viewer and not waiting_for_drain do
      local data, from = viewer:read(position)
      if data == "" then return end
      local chunk = data:sub(1, M.max_message)
      local header = ("%s %d %d %d\n"):format(viewer.epoch, from, from + #chunk, reset and 1 or 0)
      local sent, failure = ws:send(header .. chunk, "binary")
      if sent then
        position, reset = from + #chunk, false
      elseif failure == "backpressure" then
        -- Dropped: send it again from the same position once the queue
        -- has drained, so a slow client loses nothing.
        waiting_for_drain = true
      else
        viewer.close()
        return
      end
    end
  end
  viewer, err = hub.subscribe(path, function() flush() end)
  if not viewer then return nil, err end
  position, reset = M.starting_position(viewer, query or {})
  ws.on_drain = function()
    waiting_for_drain = false
    flush()
  end
  ws.on_close = function() viewer.close() end
  flush()
  return true
end

return M
