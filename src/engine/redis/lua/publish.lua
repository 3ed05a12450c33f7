-- Publish into a channel.
-- KEYS: 1 stream, 2 meta
-- ARGV: 1 candidate epoch, 2 history size, 3 stream ttl ms, 4 meta ttl ms
--       (0 = persist), 5 fan-out channel, 6 history ('1' store + offset,
--       '0' fan-out only), 7 data (bytes), 8 info JSON or '', 9 tags JSON or ''
-- Returns {epoch, offset} (offset = top when not stored).
local stream, meta = KEYS[1], KEYS[2]
local epoch = tandem_epoch(meta, ARGV[1])
tandem_keep_meta(meta, ARGV[4])
if ARGV[6] ~= '1' then
  redis.call(tandem_publish, ARGV[5], tandem_fanout_message(epoch, 0, ARGV[7], ARGV[8], ARGV[9]))
  return {epoch, tostring(tandem_top(meta))}
end
local offset = tandem_next_offset(stream, meta)
tandem_store_publish(stream, ARGV[5], epoch, offset, ARGV[2], ARGV[3], ARGV[7], ARGV[8], ARGV[9])
return {epoch, string.format('%d', offset)}
