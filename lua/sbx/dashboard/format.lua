-- Numbers as people read them on the dashboard.
local M = {}

local units = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" }

function M.bytes(n)
  if type(n) ~= "number" then return "—" end
  local unit = 1
  while n >= 1024 and unit < #units do
    n = n / 1024
    unit = unit + 1
  end
  if unit == 1 then return ("%d B"):format(math.floor(n)) end
  return ("%.1f %s"):format(n, units[unit])
end

function M.rate(bytes_per_second)
  if type(bytes_per_second) ~= "number" then return "—" end
  return M.bytes(bytes_per_second) .. "/s"
end

-- 1234567 -> "1,234,567"
function M.count(n)
  if type(n) ~= "number" then return "—" end
  local text = ("%d"):format(math.floor(n + 0.5))
  local sign, digits = text:match("^(-?)(%d+)$")
  digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. digits
end

function M.percent(fraction)
  if type(fraction) ~= "number" then return "—" end
  return ("%.1f%%"):format(fraction * 100)
end

function M.dollars(amount)
  if type(amount) ~= "number" then return "—" end
  if amount > 0 and amount < 0.01 then return "< $0.01" end
  return ("$%.2f"):format(amount)
end

-- Seconds since an ISO 8601 UTC time ("2025-01-15T10:30:00.123Z"), or nil.
function M.age(iso, now)
  if type(iso) ~= "string" then return nil end
  local y, mo, d, h, mi, s = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return nil end
  -- os.time reads a table as local time; the offset between the two
  -- readings of one instant turns it into UTC.
  local fields = { year = tonumber(y), month = tonumber(mo), day = tonumber(d),
    hour = tonumber(h), min = tonumber(mi), sec = tonumber(s) }
  now = now or os.time()
  local utc_now = os.time(os.date("!*t", now))
  return now - (os.time(fields) + (now - utc_now))
end

function M.ago(iso, now)
  local seconds = M.age(iso, now)
  if not seconds then return "never" end
  if seconds < 0 then seconds = 0 end
  if seconds < 60 then return ("%ds ago"):format(seconds) end
  if seconds < 3600 then return ("%dm ago"):format(seconds // 60) end
  if seconds < 86400 then return ("%dh ago"):format(seconds // 3600) end
  return ("%dd ago"):format(seconds // 86400)
end

return M
