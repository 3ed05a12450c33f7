-- Add or refresh a presence entry; expiry is Redis server time + ttl.
-- KEYS: 1 data hash, 2 expiry zset
-- ARGV: 1 client id, 2 ClientInfo JSON, 3 ttl ms
local now = redis.call('TIME')
local expires = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], string.format('%d', expires), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
