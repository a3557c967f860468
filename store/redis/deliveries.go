package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/entra-verifier/entra-verifier/store"
)

// Deliveries are a sorted set of ids scored by their next attempt (unix ms), and one key per delivery
// holding its JSON, expiring store.Retention after creation.

// claimScript leases the earliest due delivery: it counts the attempt, moves its score to the lease's end and
// returns its JSON.
// Ids whose record expired are dropped on the way.
var claimScript = goredis.NewScript(`
for _ = 1, 10 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
  if #ids == 0 then return false end
  local body = redis.call('GET', ARGV[3] .. ids[1])
  if body then
    local d = cjson.decode(body)
    d.attempts = (d.attempts or 0) + 1
    body = cjson.encode(d)
    redis.call('SET', ARGV[3] .. ids[1], body, 'KEEPTTL')
    redis.call('ZADD', KEYS[1], ARGV[2], ids[1])
    return body
  end
  redis.call('ZREM', KEYS[1], ids[1])
end
return false`)

// retryScript records a failed attempt, keeping the record's expiry; it answers 0 when the record is gone.
var retryScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[3]) return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'KEEPTTL')
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1`)

// ClaimDelivery implements store.Store.
func (s *Store) ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (*store.Delivery, error) {
	rec, err := claimScript.Run(ctx, s.rdb, []string{s.keys.deliveries()},
		now.UnixMilli(), now.Add(lease).UnixMilli(), s.keys.delivery("")).Text()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: claim delivery: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "claim delivery", err)
	}
	var d store.Delivery
	if err := json.Unmarshal([]byte(rec), &d); err != nil {
		return nil, fmt.Errorf("redis store: decode delivery: %w", err)
	}
	return &d, nil
}

// RetryDelivery implements store.Store.
func (s *Store) RetryDelivery(ctx context.Context, d *store.Delivery) error {
	rec, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("redis store: retry delivery: %w", err)
	}
	n, err := retryScript.Run(ctx, s.rdb, []string{s.keys.deliveries(), s.keys.delivery(d.ID)}, rec, d.NextAttempt.UnixMilli(), d.ID).Int()
	switch {
	case err != nil:
		return wrap(ctx, "retry delivery", err)
	case n == 0:
		return fmt.Errorf("redis store: retry delivery: %w", store.ErrNotFound)
	}
	return nil
}

// finishScript removes a delivery and its place in the queue.
var finishScript = goredis.NewScript(`
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1`)

// FinishDelivery implements store.Store.
func (s *Store) FinishDelivery(ctx context.Context, id string) error {
	err := finishScript.Run(ctx, s.rdb, []string{s.keys.deliveries(), s.keys.delivery(id)}, id).Err()
	return wrap(ctx, "finish delivery", err)
}
