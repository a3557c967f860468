package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/entra-verifier/entra-verifier/store"
)

// The outbox is one queue per bucket: a sorted set of delivery ids scored by their next attempt (Unix ms)
// and a hash of their bodies, "<end ms>|<JSON>", a delivery being dropped at its end (store.Retention after
// its creation: a timer's creation is its due time). Both keys live at least queueLife past their last
// enqueue, and past the end of every delivery enqueued.

// queueLife is how long a queue outlives its last enqueue: every delivery in it ends by then.
const queueLife = store.Retention + time.Minute

// encodeDelivery is d's body in its queue.
func encodeDelivery(d *store.Delivery) (string, error) {
	body, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("encode delivery: %w", err)
	}
	return strconv.FormatInt(unixMilli(d.CreatedAt.Add(store.Retention)), 10) + "|" + string(body), nil
}

// claimScript leases the earliest due delivery of one queue: it counts the attempt, moves its score to the
// lease's end and returns its JSON. Deliveries past their end are dropped on the way.
//
// KEYS: queue, bodies. ARGV: now (Unix ms), lease end (Unix ms), the wall clock (Unix ms).
var claimScript = goredis.NewScript(`
for _ = 1, 10 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
  if #ids == 0 then return false end
  local id = ids[1]
  local v = redis.call('HGET', KEYS[2], id)
  if v then
    local sep = string.find(v, '|', 1, true)
    if tonumber(string.sub(v, 1, sep - 1)) > tonumber(ARGV[3]) then
      local d = cjson.decode(string.sub(v, sep + 1))
      d.attempts = (d.attempts or 0) + 1
      local body = cjson.encode(d)
      redis.call('HSET', KEYS[2], id, string.sub(v, 1, sep) .. body)
      redis.call('ZADD', KEYS[1], ARGV[2], id)
      return body
    end
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
end
return false`)

// retryScript records a failed attempt, keeping the delivery's end; it answers 0 when the delivery is gone.
//
// KEYS: queue, bodies. ARGV: id, JSON, next attempt (Unix ms).
var retryScript = goredis.NewScript(`
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then redis.call('ZREM', KEYS[1], ARGV[1]) return 0 end
local sep = string.find(v, '|', 1, true)
redis.call('HSET', KEYS[2], ARGV[1], string.sub(v, 1, sep) .. ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1`)

// ClaimDelivery implements store.Store: one pipelined look at every queue's earliest delivery, then a claim
// on the due queues, earliest first, until one answers.
func (s *Store) ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (*store.Delivery, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	due, err := s.dueQueues(ctx, now)
	if err != nil {
		return nil, wrap(ctx, "claim delivery", err)
	}
	for _, b := range due {
		rec, err := claimScript.Run(ctx, s.rdb, []string{s.keys.queue(b), s.keys.bodies(b)},
			now.UnixMilli(), now.Add(lease).UnixMilli(), time.Now().UnixMilli()).Text()
		if errors.Is(err, goredis.Nil) {
			continue // another worker came first
		}
		if err != nil {
			return nil, wrap(ctx, "claim delivery", err)
		}
		var d store.Delivery
		if err := json.Unmarshal([]byte(rec), &d); err != nil {
			return nil, fmt.Errorf("redis store: decode delivery: %w", err)
		}
		s.leased.put(d.ID, b)
		return &d, nil
	}
	return nil, fmt.Errorf("redis store: claim delivery: %w", store.ErrNotFound)
}

// dueQueues returns the buckets whose queue has a delivery due at now, earliest first.
func (s *Store) dueQueues(ctx context.Context, now time.Time) ([]int, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.ZSliceCmd, Buckets)
	for b := range cmds {
		cmds[b] = pipe.ZRangeByScoreWithScores(ctx, s.keys.queue(b), &goredis.ZRangeBy{
			Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: 1})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, s.failed(err)
	}
	var due []int
	score := make([]float64, Buckets)
	for b, cmd := range cmds {
		if z := cmd.Val(); len(z) > 0 {
			due, score[b] = append(due, b), z[0].Score
		}
	}
	slices.SortStableFunc(due, func(a, b int) int { return cmp.Compare(score[a], score[b]) })
	return due, nil
}

// RetryDelivery implements store.Store.
func (s *Store) RetryDelivery(ctx context.Context, d *store.Delivery) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rec, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("redis store: retry delivery: %w", err)
	}
	b, err := s.deliveryBucket(ctx, d.ID)
	if err != nil {
		return wrap(ctx, "retry delivery", err)
	}
	n, err := retryScript.Run(ctx, s.rdb, []string{s.keys.queue(b), s.keys.bodies(b)}, d.ID, rec, d.NextAttempt.UnixMilli()).Int()
	switch {
	case err != nil:
		return wrap(ctx, "retry delivery", err)
	case n == 0:
		return fmt.Errorf("redis store: retry delivery: %w", store.ErrNotFound)
	}
	return nil
}

// FinishDelivery implements store.Store. Plain deletions in one pipeline, neither a script nor a MULTI
// (at maxmemory Redis refuses every command queued in a MULTI): Redis runs them at maxmemory too, so a full
// server can still drain its outbox. The body goes first: a queue entry left without one (a lost answer
// between the two) is dropped by the next claim.
func (s *Store) FinishDelivery(ctx context.Context, id string) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	b, err := s.deliveryBucket(ctx, id)
	if errors.Is(err, goredis.Nil) {
		return nil // gone already
	}
	if err != nil {
		return wrap(ctx, "finish delivery", err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.HDel(ctx, s.keys.bodies(b), id)
		p.ZRem(ctx, s.keys.queue(b), id)
		return nil
	})
	return wrap(ctx, "finish delivery", err)
}

// deliveryBucket is the bucket of delivery id: known when this process claimed it, else looked up in every
// queue (redis.Nil when none holds it).
func (s *Store) deliveryBucket(ctx context.Context, id string) (int, error) {
	if b, ok := s.leased.take(id); ok {
		return b, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.BoolCmd, Buckets)
	for b := range cmds {
		cmds[b] = pipe.HExists(ctx, s.keys.bodies(b), id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, s.failed(err)
	}
	for b, cmd := range cmds {
		if cmd.Val() {
			return b, nil
		}
	}
	return 0, goredis.Nil
}
