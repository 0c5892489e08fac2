-- common.lua: what the wrk scripts of the benchmark share (loaded with dofile by
-- read.lua, post.lua and mix.lua): reading a list file, numbering threads,
-- making varied article and comment bodies, and the done() report.
--
-- done() prints one line "BENCH_RESULT {json}" that bench.py reads: requests,
-- duration, bytes, wrk's error counters (errors.status counts answers with a
-- status of 400 or more) and the latency percentiles, in microseconds. A
-- script that tallies statuses itself (post.lua, mix.lua) adds them.

local M = {}

-- Lines of the file at path, blank lines skipped.
function M.read_lines(path)
   local lines = {}
   local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
   for line in f:lines() do
      if line ~= "" then
         lines[#lines + 1] = line
      end
   end
   f:close()
   assert(#lines > 0, "no lines in " .. path)
   return lines
end

-- setup() runs in the main state once per thread: give each thread a number
-- and keep the thread, so that done() (main state too) can read its globals.
M.threads = {}
function M.setup(thread)
   M.threads[#M.threads + 1] = thread
   thread:set("thread_number", #M.threads)
end

local words = {
   "harbour", "council", "market", "station", "river", "festival", "library", "budget",
   "election", "weather", "bridge", "museum", "school", "hospital", "energy", "village",
   "ferry", "garden", "orchestra", "season", "research", "housing", "traffic", "forest",
   "the", "of", "and", "to", "in", "a", "is", "that", "for", "on", "was", "with", "said",
}

-- A sentence-ish run of n random words (letters only: nothing to escape in JSON).
function M.words(n)
   local out = {}
   for i = 1, n do
      out[i] = words[math.random(#words)]
   end
   return table.concat(out, " ")
end

-- A JSON-ready article body of roughly bytes bytes, in paragraphs.
function M.body(bytes)
   local paragraphs, size = {}, 0
   while size < bytes do
      local p = M.words(40 + math.random(40)) .. "."
      paragraphs[#paragraphs + 1] = p
      size = size + #p + 2
   end
   return table.concat(paragraphs, "\\n\\n")
end

-- Status tallies for scripts that define response(): a global of each
-- thread's state, summed over the threads by statuses() in done().
function M.count_status(status)
   bench_statuses = bench_statuses or {}
   local k = tostring(status)
   bench_statuses[k] = (bench_statuses[k] or 0) + 1
end

function M.statuses()
   local sum = {}
   for _, thread in ipairs(M.threads) do
      local t = thread:get("bench_statuses") or {}
      for k, v in pairs(t) do
         sum[k] = (sum[k] or 0) + v
      end
   end
   return sum
end

local function json_counts(t)
   local parts = {}
   for k, v in pairs(t) do
      parts[#parts + 1] = string.format('"%s":%d', tostring(k), v)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

-- done() of every script; extra is a JSON object text or nil.
function M.report(summary, latency, extra)
   local e = summary.errors
   print(string.format(
      'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}%s}',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean,
      extra and (',"extra":' .. extra) or ""))
end

M.json_counts = json_counts

-- Installs response() and done() for a script whose answers are tallied by
-- status and reported with the tallies (wrk looks both up as globals of
-- each thread's state, so a script calls this once as it loads).
function M.tally_statuses()
   function response(status, headers_, body)
      M.count_status(status)
   end
   function done(summary, latency, requests_)
      M.report(summary, latency, '{"statuses":' .. json_counts(M.statuses()) .. "}")
   end
end
return M
