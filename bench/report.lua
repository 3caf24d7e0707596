-- wrk script used by bench/run: prints one machine-readable summary line at the end.
done = function(s, latency, requests)
  io.write(string.format(
    "BENCH requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    s.requests, s.bytes, s.duration, s.errors.connect, s.errors.read,
    s.errors.write, s.errors.status, s.errors.timeout))
end
