-- wrk's figures for bench/reload, as one line that it reads (latencies in
-- microseconds).
--
-- wrk stops measuring a request at --timeout and counts it as a timeout
-- instead (the response is still read): with --timeout 2s, "timeout" is how
-- many requests took 2 s or more.
--
-- wrk corrects its latencies for coordinated omission before done(): each
-- request that took n >= 2e (e: the run's time / the requests of one
-- connection) adds samples at n - e, n - 2e, ... down to e, the requests
-- its connection would have sent meanwhile.  p50/p99 are wrk's; raw_p50 and
-- raw_p99 are those of the requests actually sent, the correction undone
-- (RELOAD_CONNECTIONS: wrk's -c).
local conns = tonumber(os.getenv("RELOAD_CONNECTIONS") or "") or 0

local function percentile(values, count, total, p)
  local rank = math.floor(p / 100 * total + 0.5 + 0.5)
  local sum = 0
  for _, v in ipairs(values) do
    sum = sum + count[v]
    if sum >= rank then
      return v
    end
  end
  return 0
end

function done(summary, latency, requests)
  local values, count = {}, {}
  for i = 1, #latency do                  -- ascending, each with its count
    local v, n = latency(i)
    values[#values + 1] = v
    count[v] = n
  end
  local per_conn = conns > 0 and math.floor(summary.requests / conns) or 0
  local e = per_conn > 0 and math.floor(summary.duration / per_conn) or 0
  -- from the top down, every count less what the values above it added
  local real, added, total = {}, {}, 0
  for i = #values, 1, -1 do
    local v = values[i]
    local r = count[v] - (added[v] or 0)
    real[v] = r
    total = total + r
    if e > 0 and v >= 2 * e and r > 0 then
      local m = v - e
      while m > e do
        added[m] = (added[m] or 0) + r
        m = m - e
      end
    end
  end
  local err = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d"
    .. " p99_us=%d raw_p50_us=%d raw_p99_us=%d max_us=%d raw_count=%d"
    .. " non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), percentile(values, real, total, 50),
    percentile(values, real, total, 99), latency.max, total, err.status,
    err.connect, err.read, err.write, err.timeout))
end
