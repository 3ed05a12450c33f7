-- A consistent view of a session: record, activity, stream position, newest messages.
-- KEYS: 1 record hash, 2 messages zset, 3 meta
-- ARGV: 1 how many messages, 2 candidate epoch
-- Returns {} when missing, else {record JSON, last activity (RFC 3339 or ''), epoch, top, messages newest first}.
local rec = redis.call('HMGET', KEYS[1], 'r', 't')
if not rec[1] then
  return {}
end
local epoch = tandem_epoch(KEYS[3], ARGV[2])
tandem_keep_meta(KEYS[3], '0')
local n = tonumber(ARGV[1])
local msgs = {}
if n > 0 then
  msgs = redis.call('ZREVRANGEBYSCORE', KEYS[2], '+inf', '-inf', 'LIMIT', 0, n)
end
return {rec[1], rec[2] or '', epoch, tostring(tandem_top(KEYS[3])), msgs}
