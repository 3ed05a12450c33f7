-- Drops a linked-mission entry if it still points at this session.
-- KEYS: 1 linked missions hash; ARGV: 1 mission id, 2 session id
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
