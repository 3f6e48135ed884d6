std = "lua54"
max_line_length = 120
files["tests/lua"] = {
  std = "+busted",
  -- The CLI specs capture output by swapping the standard streams.
  read_globals = { io = { fields = { stdout = { read_only = false }, stderr = { read_only = false } } } },
}
