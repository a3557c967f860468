package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/entra-verifier/entra-verifier/store"
)

// Journeys in Redis. Key layout (hash tags ready for Redis Cluster; see README "Backend integration"):
//
//	{prefix}j:{<journeyId>}      the journey's JSON record, expiring at Journey.DropAt (moved by updates)
//	{prefix}jl:{<launchHash>}    launch index: the journey's id
//	{prefix}jo:{<ownerHash>}     owner index: the id of the journey a browser was last bound to
//
// Every script below touches the keys of one hash tag only (plus the webhook outbox, whose keys follow the
// records' layout): an index is written by its own command before the record it names (SET NX), so a
// crash in between leaves an index to nothing, which reads as store.ErrNotFound, never a record without
// its index. The records of a journey's steps keep their own layout (requestId / sessionId); the journey
// reaches them by the ids it points at, and they reach it by the JourneyRef they carry.

// createOutboxScript is createScript with deliveries: it stores a record, its index (and for presentations
// its claims) and enqueues the deliveries that go with it, unless the record or the index exists: then it
// writes nothing and answers 0.
//
// KEYS: record, index, [claims,] delivery queue, then one key per delivery. ARGV: record JSON, id, drop
// time (Unix ms), number of keys before the queue (2 or 3), claims JSON or "", claims end (Unix ms), then per
// delivery: its JSON, its end (Unix ms), its first attempt (Unix ms) and its id.
var createOutboxScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PXAT', ARGV[3])
local q = tonumber(ARGV[4]) + 1
if q == 4 then
  if ARGV[5] ~= '' then redis.call('SET', KEYS[3], ARGV[5], 'PXAT', ARGV[6])
  else redis.call('DEL', KEYS[3]) end
end
for i = q + 1, #KEYS do
  local a = 7 + (i - q - 1) * 4
  redis.call('SET', KEYS[i], ARGV[a], 'PXAT', ARGV[a + 1])
  redis.call('ZADD', KEYS[q], ARGV[a + 2], ARGV[a + 3])
end
return 1`)

// createJourneyScript stores a journey record and its outbox unless the record exists (answer 0).
//
// KEYS: record, delivery queue, then one key per delivery. ARGV: record JSON, drop time (Unix ms), then per
// delivery: its JSON, its end, its first attempt and its id.
var createJourneyScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
for i = 3, #KEYS do
  local a = 3 + (i - 3) * 4
  redis.call('SET', KEYS[i], ARGV[a], 'PXAT', ARGV[a + 1])
  redis.call('ZADD', KEYS[2], ARGV[a + 2], ARGV[a + 3])
end
return 1`)

// updateJourneyScript replaces a journey record when its stored version equals the expected one, moving its
// expiry to the new drop time, enqueues the deliveries that go with the change and publishes it. It answers
// 1 on success, 0 when the version differs and -1 when the record is missing.
//
// KEYS: record, delivery queue, then one key per delivery. ARGV: expected version, new version, record JSON,
// channel, drop time (Unix ms), then per delivery: its JSON, its end, its first attempt and its id.
var updateJourneyScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if cjson.decode(cur)['version'] ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'PXAT', ARGV[5])
for i = 3, #KEYS do
  local a = 6 + (i - 3) * 4
  redis.call('SET', KEYS[i], ARGV[a], 'PXAT', ARGV[a + 1])
  redis.call('ZADD', KEYS[2], ARGV[a + 2], ARGV[a + 3])
end
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1`)

func (k keys) journey(id string) string         { return k.prefix + "j:{" + id + "}" }
func (k keys) journeyLaunch(hash string) string { return k.prefix + "jl:{" + hash + "}" }
func (k keys) journeyOwner(owner string) string { return k.prefix + "jo:{" + owner + "}" }

// outboxArgs appends to keys and args the delivery keys and arguments of outbox.
func (s *Store) outboxArgs(op string, keys []string, args []any, outbox []*store.Delivery) ([]string, []any, error) {
	for _, d := range outbox {
		body, err := json.Marshal(d)
		if err != nil {
			return nil, nil, fmt.Errorf("redis store: %s: encode delivery: %w", op, err)
		}
		keys = append(keys, s.keys.delivery(d.ID))
		args = append(args, body, unixMilli(d.CreatedAt.Add(store.Retention)), d.NextAttempt.UnixMilli(), d.ID)
	}
	return keys, args, nil
}

// createWithOutbox runs createOutboxScript: keys are the record's, its index's and (presentations) its
// claims'.
func (s *Store) createWithOutbox(ctx context.Context, op string, keys []string, rec []byte, id string, dropAt time.Time,
	claims []byte, claimsAt time.Time, outbox []*store.Delivery) error {
	args := []any{rec, id, unixMilli(dropAt), strconv.Itoa(len(keys)), claims, unixMilli(claimsAt)}
	keys = append(keys, s.keys.deliveries())
	keys, args, err := s.outboxArgs(op, keys, args, outbox)
	if err != nil {
		return err
	}
	n, err := createOutboxScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: %s: %w", op, store.ErrConflict)
	}
	return nil
}

// CreateJourney implements store.Store: the launch index first (SET NX), then the record with its outbox.
func (s *Store) CreateJourney(ctx context.Context, j *store.Journey, outbox ...*store.Delivery) error {
	const op = "create journey"
	rec, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	ok, err := s.rdb.SetNX(ctx, s.keys.journeyLaunch(j.LaunchHash), j.ID, time.Until(j.DropAt())).Result()
	if err != nil {
		return wrap(ctx, op, err)
	}
	if !ok {
		return fmt.Errorf("redis store: %s: launch token taken: %w", op, store.ErrConflict)
	}
	keys, args, err := s.outboxArgs(op, []string{s.keys.journey(j.ID), s.keys.deliveries()}, []any{rec, unixMilli(j.DropAt())}, outbox)
	if err != nil {
		return err
	}
	n, err := createJourneyScript.Run(ctx, s.rdb, keys, args...).Int()
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: %s: %w", op, store.ErrConflict)
	}
	return nil
}

// Journey implements store.Store.
func (s *Store) Journey(ctx context.Context, id string) (*store.Journey, error) {
	rec, err := s.rdb.Get(ctx, s.keys.journey(id)).Bytes()
	if err != nil {
		return nil, wrap(ctx, "read journey", err)
	}
	var j store.Journey
	if err := json.Unmarshal(rec, &j); err != nil {
		return nil, fmt.Errorf("redis store: decode journey: %w", err)
	}
	if !s.now().Before(j.DropAt()) { // a server clock running late
		return nil, fmt.Errorf("redis store: read journey: %w", store.ErrNotFound)
	}
	return &j, nil
}

// JourneyByLaunch implements store.Store.
func (s *Store) JourneyByLaunch(ctx context.Context, launchHash string) (*store.Journey, error) {
	id, err := s.rdb.Get(ctx, s.keys.journeyLaunch(launchHash)).Result()
	if err != nil {
		return nil, wrap(ctx, "read journey by launch token", err)
	}
	j, err := s.Journey(ctx, id)
	if err == nil && j.LaunchHash != launchHash {
		return nil, fmt.Errorf("redis store: read journey by launch token: %w", store.ErrNotFound)
	}
	return j, err
}

// UpdateJourney implements store.Store: read, apply fn, compare-and-swap, and again after a lost race.
func (s *Store) UpdateJourney(ctx context.Context, id string, fn store.JourneyUpdater) (*store.Journey, error) {
	const op = "update journey"
	return optimistic(ctx, op, func() (*store.Journey, error) { return s.Journey(ctx, id) }, fn,
		func(next, cur *store.Journey, outbox []*store.Delivery) error {
			next.ID, next.LaunchHash, next.Version = cur.ID, cur.LaunchHash, cur.Version+1
			rec, err := json.Marshal(next)
			if err != nil {
				return fmt.Errorf("redis store: %s: %w", op, err)
			}
			args := []any{cur.Version, next.Version, rec, s.keys.channel(store.JourneyTopic(id)), unixMilli(next.DropAt())}
			keys, args, err := s.outboxArgs(op, []string{s.keys.journey(id), s.keys.deliveries()}, args, outbox)
			if err != nil {
				return err
			}
			n, err := updateJourneyScript.Run(ctx, s.rdb, keys, args...).Int()
			switch {
			case err != nil:
				return wrap(ctx, op, err)
			case n < 0:
				return fmt.Errorf("redis store: %s: %w", op, store.ErrNotFound)
			case n == 0:
				return fmt.Errorf("redis store: %s: %w", op, store.ErrConflict)
			}
			return nil
		})
}

// BindJourneyOwner implements store.Store.
func (s *Store) BindJourneyOwner(ctx context.Context, ownerHash, id string, until time.Time) error {
	return wrap(ctx, "bind journey owner", s.rdb.Set(ctx, s.keys.journeyOwner(ownerHash), id, time.Until(until)).Err())
}

// JourneyByOwner implements store.Store.
func (s *Store) JourneyByOwner(ctx context.Context, ownerHash string) (*store.Journey, error) {
	id, err := s.rdb.Get(ctx, s.keys.journeyOwner(ownerHash)).Result()
	if err != nil {
		return nil, wrap(ctx, "read journey by owner", err)
	}
	return s.Journey(ctx, id)
}
