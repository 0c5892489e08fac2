-- post.lua: creates articles (with the API key) or comments, each with its
-- own text, and tallies the answers' statuses.
--
--   wrk ... -s bench/post.lua http://127.0.0.1:PORT -- article KEY TAG
--   wrk ... -s bench/post.lua http://127.0.0.1:PORT -- comment IDS_FILE TAG
--
-- Articles get a 3-6 KB body and a title that is unique in the run (TAG, the
-- thread's number and a counter), so no slug needs a "-2" suffix. Comments
-- go to the article ids of IDS_FILE in turn (popular articles first).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

setup = common.setup

local mode, key, tag, ids, counter = nil, nil, nil, nil, 0
local headers = {}

function init(args)
   mode, tag = args[1], args[3] or "bench"
   math.randomseed(1000 + (thread_number or 1))
   headers["Content-Type"] = "application/json"
   if mode == "article" then
      headers["Authorization"] = "Bearer " .. args[2]
   elseif mode == "comment" then
      ids = common.read_lines(args[2])
   else
      error("post.lua: mode must be article or comment")
   end
end

function request()
   counter = counter + 1
   if mode == "article" then
      local body = string.format(
         '{"title":"%s %d %d %s","body":"%s","tags":["bench","%s"],"category":"Bench"}',
         tag, thread_number or 1, counter, common.words(5), common.body(3000 + math.random(3000)),
         tag)
      return wrk.format("POST", "/v1/articles", headers, body)
   end
   local id = ids[(counter - 1) % #ids + 1]
   local body = string.format('{"author":"bench %d","body":"%s"}', counter,
                              common.words(10 + math.random(60)))
   return wrk.format("POST", "/v1/articles/" .. id .. "/comments", headers, body)
end

common.tally_statuses()
