-- Record activity without a commit.
-- KEYS: 1 record hash, 2 activity zset, 3..6 idle index zsets (active,
--       completed, abandoned, archived)
-- ARGV: 1 at (ms), 2 session id, 3 at (RFC 3339)
-- Returns 0 when the session does not exist. Split mode (`tandem_split`):
-- KEYS is the record alone; returns {1, status, since} when the activity
-- moved forward (the engine raises the index entries), {1} when not.
if redis.call('HEXISTS', KEYS[1], 'r') == 0 then
  return 0
end
local at = tonumber(ARGV[1])
if tandem_split then
  if at <= tonumber(redis.call('HGET', KEYS[1], 'a') or '0') then
    return {1}
  end
  redis.call('HSET', KEYS[1], 'a', ARGV[1], 't', ARGV[3])
  local since = math.max(at, tonumber(redis.call('HGET', KEYS[1], 'u') or '0'))
  return {1, redis.call('HGET', KEYS[1], 's') or '', string.format('%d', since)}
end
if at > tonumber(redis.call('HGET', KEYS[1], 'a') or '0') then
  redis.call('HSET', KEYS[1], 'a', ARGV[1], 't', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
  local idle = {active = KEYS[3], completed = KEYS[4], abandoned = KEYS[5], archived = KEYS[6]}
  local status = redis.call('HGET', KEYS[1], 's')
  if status and idle[status] then
    local since = math.max(at, tonumber(redis.call('HGET', KEYS[1], 'u') or '0'))
    redis.call('ZADD', idle[status], since, ARGV[2])
  end
end
return 1
