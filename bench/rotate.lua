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

done = function(s, latency, requests)
  io.write(string.format(
    "BENCH requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    s.requests, s.bytes, s.duration, s.errors.connect, s.errors.read,
    s.errors.write, s.errors.status, s.errors.timeout))
end
