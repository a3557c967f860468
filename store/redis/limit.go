package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// allowScript counts one event in a fixed window that starts with the window's first event; it answers
// -1 when within the limit, else the milliseconds left in the window.
var allowScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[2]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
  return ttl
end
return -1`)

// Allow implements store.Store; every replica counts in the same key.
func (s *Store) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	left, err := allowScript.Run(ctx, s.rdb, []string{s.keys.limit(key)}, window.Milliseconds(), limit).Int64()
	if err != nil {
		return false, 0, wrap(ctx, "rate limit", err)
	}
	if left < 0 {
		return true, 0, nil
	}
	return false, time.Duration(left) * time.Millisecond, nil
}
