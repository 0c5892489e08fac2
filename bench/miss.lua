-- miss.lua: GETs the request paths of a list file in turn, each with a query
-- argument of its own ("&miss=THREAD-N"), so that the response cache never
-- answers: every request is a miss that runs its handler (a search, a feed).
--
--   wrk -t1 -c16 -d10s -s bench/miss.lua http://127.0.0.1:PORT -- URLS_FILE
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup

local paths, n, i, counter = {}, 0, 0, 0

function init(args)
   paths = common.read_lines(args[1])
   n = #paths
   i = ((thread_number or 1) - 1) * 97 % n
end

function request()
   i = i % n + 1
   counter = counter + 1
   local path = paths[i]
   local sep = path:find("?", 1, true) and "&" or "?"
   return wrk.format("GET", string.format("%s%smiss=%d-%d", path, sep, thread_number or 1,
                                          counter))
end

function done(summary, latency, requests_)
   common.report(summary, latency, nil)
end
