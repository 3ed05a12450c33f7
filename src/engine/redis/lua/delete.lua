-- Delete a session after publishing its farewell event.
-- KEYS: 1 record hash, 2 stream, 3 meta, 4 event log, 5 messages,
--       6 idempotency, 7 collaborators set, 8 activity zset,
--       9 linked missions hash, 10..13 idle index zsets, 14.. user index sets
-- ARGV: 1 version read, 2 candidate epoch, 3 history size, 4 stream ttl ms,
--       5 fan-out channel, 6 session id, 7 mission id or '',
--       8 farewell event JSON rest, 9 tombstone ttl ms (split mode)
-- Split mode (`tandem_split`, a cluster): KEYS are 1..7, 8 the removed
-- users set and 9 the tombstone hash (`m` mission id, `u:<user>` for every
-- user whose index lists the session, kept ARGV[9] ms) from which the
-- engine's follow-up removes the session from the global indexes.
-- Returns 0 when missing, -1 when the version changed (read again), 1 when deleted.
local v = redis.call('HGET', KEYS[1], 'v')
if not v then
  return 0
end
if tonumber(v) ~= tonumber(ARGV[1]) then
  return -1
end
local epoch = tandem_epoch(KEYS[3], ARGV[2])
local offset = tandem_next_offset(KEYS[2], KEYS[3])
tandem_store_publish(KEYS[2], ARGV[5], epoch, offset, ARGV[3], ARGV[4],
  tandem_with_offset(offset, ARGV[8]), '', '')
if tandem_split then
  local tomb = KEYS[9]
  redis.call('DEL', tomb)
  redis.call('HSET', tomb, 'm', ARGV[7])
  for _, user in ipairs(redis.call('SUNION', KEYS[7], KEYS[8])) do
    redis.call('HSET', tomb, 'u:' .. user, '1')
  end
  redis.call('PEXPIRE', tomb, ARGV[9])
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
  return 1
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
redis.call('ZREM', KEYS[8], ARGV[6])
if ARGV[7] ~= '' then
  redis.call('HDEL', KEYS[9], ARGV[7])
end
for j = 10, 13 do
  redis.call('ZREM', KEYS[j], ARGV[6])
end
for j = 14, #KEYS do
  redis.call('SREM', KEYS[j], ARGV[6])
end
return 1
