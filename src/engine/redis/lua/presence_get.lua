-- Who is present: drops expired entries first.
-- KEYS: 1 data hash, 2 expiry zset
-- Returns HGETALL of the data hash.
local now = redis.call('TIME')
local ms = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ms)
for _, client in ipairs(expired) do
  redis.call('HDEL', KEYS[1], client)
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms)
end
return redis.call('HGETALL', KEYS[1])
