-- sbx lua SCRIPT [args]: runs a Lua script inside the sbx host, with the
-- engine's modules and the shared loop. The test suite runs busted this way,
-- so the real primitives are what the tests exercise.
return {
  summary = "run a Lua script with sbx's modules (for tests and development)",
  usage = "lua SCRIPT [-- args...]",
  description = "The script sees its arguments in the global 'arg', as with the\n"
    .. "standalone interpreter. Arguments starting with '-' go after '--'.",
  options = {},
  run = function(_, positional, rest)
    local script = positional[1]
    if not script then return nil, "expected a script", 2 end
    local script_args = { [0] = script }
    table.move(positional, 2, #positional, 1, script_args)
    table.move(rest, 1, #rest, #script_args + 1, script_args)
    local chunk, err = loadfile(script)
    if not chunk then return nil, err, 1 end
    _G.arg = script_args -- the interpreter's convention, which busted reads
    local ok, failure = xpcall(chunk, debug.traceback, table.unpack(script_args))
    if not ok then return nil, failure, 1 end
    return 0
  end,
}
