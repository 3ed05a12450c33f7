-- Record activity without a commit.
-- KEYS: 1 record hash, 2 activity zset; ARGV: 1 at (ms), 2 session id, 3 at (RFC 3339)
-- Returns 0 when the session does not exist.
if redis.call('HEXISTS', KEYS[1], 'r') == 0 then
  return 0
end
local at = tonumber(ARGV[1])
if at > tonumber(redis.call('HGET', KEYS[1], 'a') or '0') then
  redis.call('HSET', KEYS[1], 'a', ARGV[1], 't', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
end
return 1
