-- bench/capture.lua FBDIR ITERATIONS: per-frame cost of sbx's capture of
-- an Xvfb -fbdir screen: fingerprint + JPEG encode (a changed frame), and
-- fingerprint alone (an unchanged frame, which is not encoded again).
local fb = require "sbx.fb"
local uv = require "luv"

local dir, iterations = arg[1], tonumber(arg[2] or "50")
local screen = assert(fb.open(dir .. "/Xvfb_screen0", "xwd"))
local function per_frame_ms(fn)
  fn() -- warm the mapping and the encoder's buffers
  local start = uv.hrtime()
  for _ = 1, iterations do fn() end
  return (uv.hrtime() - start) / 1e6 / iterations
end
local size
local changed = per_frame_ms(function()
  assert(screen:fingerprint())
  local jpeg = assert(screen:jpeg { quality = 75 })
  size = #jpeg
end)
local unchanged = per_frame_ms(function() assert(screen:fingerprint()) end)
local thumb = per_frame_ms(function() assert(screen:jpeg { max_width = 480, quality = 70 }) end)
print(("changed %.3f unchanged %.3f thumb %.3f jpeg_bytes %d"):format(changed, unchanged, thumb, size))
