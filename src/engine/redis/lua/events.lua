-- Events of the full log from offset ARGV[1], at most ARGV[2].
-- KEYS: 1 event log list (offsets are contiguous, each entry starts with {"offset":N)
local head = redis.call('LINDEX', KEYS[1], 0)
local limit = tonumber(ARGV[2])
if not head or limit <= 0 then
  return {}
end
local base = tonumber(string.match(head, '^{"offset":(%d+)'))
local start = tonumber(ARGV[1]) - base
if start < 0 then start = 0 end
return redis.call('LRANGE', KEYS[1], start, start + limit - 1)
