-- comment_mix.lua: the read-heavy mix of the cache-invalidation measurement:
-- 85% article pages (ids 1..5000 at random), 7% article searches, 3% list
-- pages and WRITE_PCT% comments posted to a random article (with WRITE_PCT
-- 0 the writes' share goes to article pages: the read-only baseline).
--
--   wrk -t2 -c64 -d8s --latency -s bench/comment_mix.lua http://127.0.0.1:PORT -- WRITE_PCT
--
-- The database is the benchmark corpus of 5,000 articles (gen_corpus.py,
-- loaded with newsd import --jsonl); newsd runs with --comment-rate 0.
local ids, searches, lists = {}, {}, {}
local n, wpct = 0, 5
local headers = {["Content-Type"] = "application/json"}
function init(args)
   wpct = tonumber(args[1])
   for i = 1, 5000 do ids[i] = i end
   local words = {"harbour", "council", "market", "station", "river", "festival", "library", "budget"}
   for i, w in ipairs(words) do searches[i] = "/v1/search?q=" .. w end
   lists = {"/v1/articles", "/v1/articles?sort=commented", "/v1/articles?category=news", "/v1/articles?limit=50"}
   math.randomseed(7)
end
function request()
   n = n + 1
   local r = math.random(100)
   if r <= wpct then
      local a = ids[math.random(#ids)]
      return wrk.format("POST", "/v1/articles/" .. a .. "/comments", headers,
                        '{"author":"bench","body":"A comment ' .. n .. '"}')
   elseif r <= wpct + 7 then
      return wrk.format("GET", searches[math.random(#searches)])
   elseif r <= wpct + 10 then
      return wrk.format("GET", lists[math.random(#lists)])
   end
   return wrk.format("GET", "/v1/articles/" .. ids[math.random(#ids)])
end
