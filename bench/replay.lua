-- replay.lua: wrk script that sends pre-built raw HTTP requests.
--
-- wrk -t1 -c16 -d10s -s replay.lua URL -- FILE MODE THREADS
--   FILE     the requests, each complete (request line, headers, body), NUL-terminated
--   MODE     "once": each request is sent at most once (signed requests carry a nonce the
--            server refuses to see twice); when the list runs out the last one is repeated
--            and counted as "exhausted", which makes the run invalid.
--            "cycle": the list is replayed round and round (idempotent requests).
--   THREADS  wrk's -t; thread k sends requests k, k+THREADS, k+2*THREADS, ...
--
-- No response() hook: wrk then does not hand headers and bodies to Lua, which keeps the
-- client cheap. Non-2xx answers are counted by wrk itself (summary.errors.status).
-- done() prints one line "BENCH_JSON {...}" that bench/benchlib.py parses.

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

function init(args)
   local path, mode, nthreads = args[1], args[2], tonumber(args[3]) or 1
   cycle = (mode == "cycle")
   local file = assert(io.open(path, "rb"))
   local data = file:read("*a")
   file:close()
   req_list = {}
   local pos, index = 1, 0
   while true do
      local stop = string.find(data, "\0", pos, true)
      if not stop then break end
      if index % nthreads == thread_index then
         req_list[#req_list + 1] = string.sub(data, pos, stop - 1)
      end
      index = index + 1
      pos = stop + 1
   end
   data = nil
   count = #req_list
   assert(count > 0, "no requests for thread " .. thread_index .. " in " .. path)
   next_index = 0
   exhausted = 0
end

function request()
   next_index = next_index + 1
   if next_index > count then
      if cycle then
         next_index = 1
      else
         exhausted = exhausted + 1
         next_index = count
      end
   end
   return req_list[next_index]
end

function done(summary, latency, requests)
   local used_up = 0
   for _, thread in ipairs(threads) do
      used_up = used_up + (thread:get("exhausted") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,' ..
      '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"exhausted":%d}\n',
      summary.requests, summary.duration, summary.bytes, e.status,
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean, used_up))
end
