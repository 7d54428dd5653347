-- Cycles through the access tokens in $TOKENS_FILE (one per line), one per request, so that the
-- server sees N distinct tokens as a node serving N users does (bench/run.py, targets tokens-*).
-- Reports like wrk-report.lua, which it loads.
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "wrk-report.lua")

local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  tokens[#tokens + 1] = "Bearer " .. line
end
-- Each wrk thread starts at its own place in the list.
local i = math.random(#tokens) - 1

request = function()
  i = i % #tokens + 1
  return wrk.format(nil, nil, { Authorization = tokens[i] })
end
