-- The frames sbx run and a VM's guest agent (guest/) exchange over a
-- virtio-serial port: a type byte, a 32-bit big-endian payload length, the
-- payload (docs/vm.md). What comes from the guest is untrusted: a guest
-- kernel may be the sandbox's by then, so every frame is checked here.
local M = {}

M.MAX_PAYLOAD = 65536
local HEADER = 5

-- From the guest: what a session printed (O, E), how it ended (X), that
-- it ended with its processes going on (T).
M.from_guest = { O = true, E = true, X = true, T = true }

function M.encode(kind, payload)
  payload = payload or ""
  if #kind ~= 1 or #payload > M.MAX_PAYLOAD then
    error(("a frame of type %q with %d bytes"):format(kind, #payload), 2)
  end
  return kind .. string.pack(">I4", #payload) .. payload
end

-- Checks the payload of an exit frame: {code = n} or {signal = n}, or nil.
function M.exit_status(payload)
  local what, number = payload:match("^(%a+) (%d+)$")
  number = math.tointeger(tonumber(number))
  if not number or number > 255 then return nil end
  if what == "code" then return { code = number } end
  if what == "signal" and number > 0 and number < 65 then return { signal = number } end
end

-- A decoder for a stream of frames: decoder:feed(bytes) returns the
-- complete frames so far ({kind =, payload =}), or nil and why the stream
-- is not frames of ALLOWED types (then it stays failed).
function M.decoder(allowed)
  local buffer, failure = "", nil
  local d = {}
  function d.feed(_, data)
    if failure then return nil, failure end
    buffer = buffer .. data
    local frames, at = {}, 1
    while #buffer - at + 1 >= HEADER do
      local kind = buffer:sub(at, at)
      local length = string.unpack(">I4", buffer, at + 1)
      if not allowed[kind] then
        failure = ("a frame of unknown type %q"):format(kind)
      elseif length > M.MAX_PAYLOAD then
        failure = ("a frame of %d bytes (at most %d)"):format(length, M.MAX_PAYLOAD)
      end
      if failure then
        buffer = ""
        return nil, failure
      end
      if #buffer - at + 1 < HEADER + length then break end
      frames[#frames + 1] = { kind = kind, payload = buffer:sub(at + HEADER, at + HEADER + length - 1) }
      at = at + HEADER + length
    end
    buffer = buffer:sub(at)
    return frames
  end
  return d
end

-- The payload of a start frame (guest/session.c): NUL-terminated fields.
-- START: {mode = "pty"|"pipes", lifetime = "entry"|"all", rows, cols, cwd,
-- argv, env}. nil and a message when a field holds a NUL.
function M.start_payload(start)
  local fields = { start.mode, start.lifetime or "entry", tostring(start.rows or 0),
    tostring(start.cols or 0), start.cwd, tostring(#start.argv) }
  table.move(start.argv, 1, #start.argv, #fields + 1, fields)
  fields[#fields + 1] = tostring(#start.env)
  table.move(start.env, 1, #start.env, #fields + 1, fields)
  for _, field in ipairs(fields) do
    if field:find("%z") then return nil, ("%q holds a NUL byte"):format(field) end
  end
  local payload = table.concat(fields, "\0") .. "\0"
  if #payload > M.MAX_PAYLOAD then
    return nil, ("the command and environment take %d bytes; a VM session takes at most %d"):format(
      #payload, M.MAX_PAYLOAD)
  end
  return payload
end

return M
