-- wrk script for scenario (e): keep-alive GETs cycling over /files/f0000.html ..
-- /files/f0999.html (BENCH_NFILES overrides the count). Requests are built once in init().
local n = tonumber(os.getenv("BENCH_NFILES") or "1000")
local reqs = {}
local i = 0

init = function(args)
  for k = 0, n - 1 do
    reqs[k + 1] = wrk.format("GET", string.format("/files/f%04d.html", k))
  end
end

request = function()
  i = i % n + 1
  return reqs[i]
end

-- The summary line comes from report.lua, which sits beside this script (wrk runs one
-- script, so it is loaded from here).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
