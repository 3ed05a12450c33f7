-- Commit a change to a session (SessionStore::commit), atomically:
-- idempotency check, version compare-and-set, offsets for the events, stream
-- + fan-out + full event log, messages, record, indexes.
-- KEYS: 1 record hash, 2 stream, 3 meta, 4 event log list, 5 messages zset,
--       6 idempotency hash, 7 collaborators set, 8 activity zset,
--       9 linked missions hash, 10..13 idle index zsets (active, completed,
--       abandoned, archived), 14.. user index sets (collaborators, then
--       users no longer collaborators)
-- ARGV: 1 version read, 2 record JSON (already at version + 1), 3 last
--       activity ms, 4 candidate epoch, 5 history size, 6 stream ttl ms,
--       7 fan-out channel, 8 idempotency key or '',
--       9 response mode ('o' object rest, 'r' raw), 10 response,
--       11 session id, 12 mission id or '', 13 #events, 14 #messages,
--       15 #collaborators, 16 #removed users, 17 last activity as RFC 3339
--       (exact; field `a` keeps it in ms for comparisons), 18 status,
--       19 updated_at ms, 20 guard: refuse when the stored activity (ms) is
--       later than this ('' = no guard), 21 owner (kept in field `o`, so
--       an undecodable record can still be deleted by its owner), then the
--       collaborators, the
--       removed users, each event's JSON rest (without offset, after '{'),
--       and per message: mode ('z' gets the first event's offset, rest
--       follows; 'k' keeps offset), offset, JSON.
-- Split mode (`tandem_split`, a cluster): KEYS are only 1..7 and 8, the
-- set of users removed from the session whose index entry the follow-up
-- must drop; every key shares the session's slot. The activity, idle,
-- linked-mission and user indexes are then left to the engine's follow-up
-- (store.rs, indexes.rs), which reads them back from the record.
-- Returns {'duplicate', response} | {'conflict'} | {'ok', epoch, first, top}.
local record, stream, meta, events, messages, idem, users, activity, linked =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local idem_key = ARGV[8]
if idem_key ~= '' then
  local previous = redis.call('HGET', idem, idem_key)
  if previous then
    return {'duplicate', previous}
  end
end
local stored = tonumber(redis.call('HGET', record, 'v') or '0')
if stored ~= tonumber(ARGV[1]) then
  return {'conflict'}
end
if ARGV[20] ~= '' and tonumber(redis.call('HGET', record, 'a') or '0') > tonumber(ARGV[20]) then
  return {'conflict'}
end
local epoch = tandem_epoch(meta, ARGV[4])
tandem_keep_meta(meta, '0')
local n_events, n_messages = tonumber(ARGV[13]), tonumber(ARGV[14])
local n_users, n_removed = tonumber(ARGV[15]), tonumber(ARGV[16])
local sid = ARGV[11]
local i = 22
local collaborators = {}
for j = 1, n_users do
  collaborators[j] = ARGV[i]
  i = i + 1
end
local removed = {}
for j = 1, n_removed do
  removed[j] = ARGV[i]
  i = i + 1
end
local first = nil
local top = tandem_top(meta)
for _ = 1, n_events do
  local offset = tandem_next_offset(stream, meta)
  local data = tandem_with_offset(offset, ARGV[i])
  i = i + 1
  tandem_store_publish(stream, ARGV[7], epoch, offset, ARGV[5], ARGV[6], data, '', '')
  redis.call('RPUSH', events, data)
  if not first then first = offset end
  top = offset
end
if not first then first = top end
for _ = 1, n_messages do
  local mode, offset, body = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  if mode == 'z' then
    offset = string.format('%d', first)
    body = tandem_with_offset(first, body)
  end
  local seq = redis.call('HINCRBY', record, 'q', 1)
  redis.call('ZADD', messages, offset, string.format('%012d', seq) .. '|' .. body)
end
redis.call('HSET', record, 'r', ARGV[2], 'v', string.format('%d', stored + 1), 'o', ARGV[21], 'm', ARGV[12])
local previous_at = tonumber(redis.call('HGET', record, 'a') or '0')
if tonumber(ARGV[3]) > previous_at then
  redis.call('HSET', record, 'a', ARGV[3], 't', ARGV[17])
  if not tandem_split then
    redis.call('ZADD', activity, ARGV[3], sid)
  end
end
if tandem_split then
  redis.call('HSET', record, 's', ARGV[18], 'u', ARGV[19])
  redis.call('DEL', users)
  for j = 1, n_users do
    redis.call('SADD', users, collaborators[j])
    redis.call('SREM', KEYS[8], collaborators[j])
  end
  for j = 1, n_removed do
    redis.call('SADD', KEYS[8], removed[j])
  end
end
local idle = {active = KEYS[10], completed = KEYS[11], abandoned = KEYS[12], archived = KEYS[13]}
local old_status = redis.call('HGET', record, 's')
if not tandem_split and old_status and old_status ~= ARGV[18] and idle[old_status] then
  redis.call('ZREM', idle[old_status], sid)
end
if not tandem_split then
  local since = math.max(tonumber(redis.call('HGET', record, 'a') or '0'), tonumber(ARGV[19]))
  redis.call('HSET', record, 's', ARGV[18], 'u', ARGV[19])
  redis.call('ZADD', idle[ARGV[18]], since, sid)
  redis.call('DEL', users)
  for j = 1, n_users do
    redis.call('SADD', users, collaborators[j])
    redis.call('SADD', KEYS[13 + j], sid)
  end
  for j = 1, n_removed do
    redis.call('SREM', KEYS[13 + n_users + j], sid)
  end
  if ARGV[12] ~= '' then
    redis.call('HSET', linked, ARGV[12], sid)
  end
end
if idem_key ~= '' then
  local response = ARGV[10]
  if ARGV[9] == 'o' then
    response = tandem_with_offset(first, response)
  end
  redis.call('HSET', idem, idem_key, response)
end
return {'ok', epoch, string.format('%d', first), string.format('%d', top)}
