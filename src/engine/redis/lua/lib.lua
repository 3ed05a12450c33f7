-- Shared helpers, prepended to every script that appends to a stream.
-- Payloads are never decoded and re-encoded (cjson would corrupt empty
-- arrays/objects and big numbers): JSON is built by concatenation.

-- Defined before this file by the engine: `tandem_fence_restarts` (true or
-- false: TANDEM_REDIS_NEW_EPOCH_ON_RESTART), `tandem_split` (true on a
-- cluster: scripts touch only the session's slot and leave the global
-- indexes to the engine's follow-up) and `tandem_publish` ('PUBLISH' on one
-- Redis, 'SPUBLISH' on a cluster: sharded pub/sub).

-- The running Redis process's id: it changes on every restart.
local function tandem_run_id()
  return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
end

-- The stream's epoch; a missing meta means a new epoch: the caller's
-- candidate. With restart fencing, a meta last used under another Redis
-- process also gets the candidate epoch (offsets go on from the top it
-- has): Redis may have restarted without its last writes, and offsets
-- clients already saw must never be served again under the same epoch.
local function tandem_epoch(meta, candidate)
  local stored = redis.call('HMGET', meta, 'e', 'r')
  local epoch = stored[1]
  if not tandem_fence_restarts then
    if not epoch then
      redis.call('HSET', meta, 'e', candidate, 's', '0')
      epoch = candidate
    end
    return epoch
  end
  local run = tandem_run_id()
  if not epoch then
    redis.call('HSET', meta, 'e', candidate, 's', '0', 'r', run)
    epoch = candidate
  elseif stored[2] ~= run then
    redis.call('HSET', meta, 'e', candidate, 'r', run)
    epoch = candidate
  end
  return epoch
end

-- Keeps the meta for `ttl_ms` more (0 = for good: session streams).
local function tandem_keep_meta(meta, ttl_ms)
  if tonumber(ttl_ms) > 0 then
    redis.call('PEXPIRE', meta, ttl_ms)
  else
    redis.call('PERSIST', meta)
  end
end

-- The stream's top offset.
local function tandem_top(meta)
  return tonumber(redis.call('HGET', meta, 's') or '0')
end

-- Allocates the next offset. Offset 1 means the meta was (re)created, so any
-- stream entries left belong to a dead epoch.
local function tandem_next_offset(stream, meta)
  local offset = redis.call('HINCRBY', meta, 's', 1)
  if offset == 1 then
    redis.call('DEL', stream)
  end
  return offset
end

-- A publication message for the fan-out channel (see wire.rs): a text
-- header (with Redis's clock in microseconds, for the publish-to-deliver
-- latency), then info, tags and data as bytes (binary-safe).
local function tandem_fanout_message(epoch, offset, data, info, tags)
  local now = redis.call('TIME')
  local micros = string.format('%d%06d', tonumber(now[1]), tonumber(now[2]))
  return 'P\n' .. epoch .. '\n' .. string.format('%d', offset) .. '\n' .. micros .. '\n' .. #info .. '\n' .. #tags .. '\n' .. info .. tags .. data
end

-- Stores a publication under `<offset>-0` (exact MAXLEN trim, TTL refreshed)
-- and publishes it to the fan-out channel, so PUBLISH order = offset order.
-- `info` and `tags` are JSON text or ''.
local function tandem_store_publish(stream, fanout, epoch, offset, size, ttl_ms, data, info, tags)
  local id = string.format('%d-0', offset)
  if info ~= '' and tags ~= '' then
    redis.call('XADD', stream, 'MAXLEN', size, id, 'd', data, 'i', info, 't', tags)
  elseif info ~= '' then
    redis.call('XADD', stream, 'MAXLEN', size, id, 'd', data, 'i', info)
  elseif tags ~= '' then
    redis.call('XADD', stream, 'MAXLEN', size, id, 'd', data, 't', tags)
  else
    redis.call('XADD', stream, 'MAXLEN', size, id, 'd', data)
  end
  redis.call('PEXPIRE', stream, ttl_ms)
  redis.call(tandem_publish, fanout, tandem_fanout_message(epoch, offset, data, info, tags))
end

-- `{"offset":N,` + the rest of an object serialised without its offset
-- (`rest` is that object's text after its opening brace).
local function tandem_with_offset(offset, rest)
  if rest == '}' then
    return string.format('{"offset":%d}', offset)
  end
  return string.format('{"offset":%d,', offset) .. rest
end
