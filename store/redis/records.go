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

// createScript stores a record, its secondary index and (for presentations) its claims, unless the record
// or the index key exists: then it writes nothing and answers 0.
//
// KEYS: record, index[, claims]. ARGV: record JSON, id, retention end (Unix ms), claims JSON or "", claims
// end (Unix ms).
var createScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PXAT', ARGV[3])
if KEYS[3] then
  if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4], 'PXAT', ARGV[5])
  else redis.call('DEL', KEYS[3]) end
end
return 1`)

// updateScript replaces a record when its stored version equals the expected one, keeping the record's
// expiry, sets or drops its claims, enqueues the deliveries that go with the change, and publishes the change,
// all in the same step. It answers 1 on success, 0 when the version differs and -1 when the record is missing.
//
// KEYS: record, delivery queue, claims key or "" (the record has none), then one key per delivery.
// ARGV: expected version, new version, record JSON, channel, claims JSON or "", claims end (Unix ms), then
// per delivery: its JSON, its end (Unix ms), its first attempt (Unix ms) and its id.
var updateScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if cjson.decode(cur)['version'] ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
if KEYS[3] ~= '' then
  if ARGV[5] ~= '' then redis.call('SET', KEYS[3], ARGV[5], 'PXAT', ARGV[6])
  else redis.call('DEL', KEYS[3]) end
end
for i = 4, #KEYS do
  local a = 7 + (i - 4) * 4
  redis.call('SET', KEYS[i], ARGV[a], 'PXAT', ARGV[a + 1])
  redis.call('ZADD', KEYS[2], ARGV[a + 2], ARGV[a + 3])
end
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1`)

// CreatePresentation implements store.Store.
func (s *Store) CreatePresentation(ctx context.Context, p *store.Presentation, outbox ...*store.Delivery) error {
	rec, claims, err := s.encodePresentation(p, p.Version)
	if err != nil {
		return fmt.Errorf("redis store: create presentation: %w", err)
	}
	keys := []string{s.keys.presentation(p.ID), s.keys.state(p.State), s.keys.claims(p.ID)}
	return s.create(ctx, "create presentation", keys, rec, p.ID, p.DropAt(), claims, p.ClaimsEnd(), outbox)
}

// Presentation implements store.Store.
func (s *Store) Presentation(ctx context.Context, id string) (*store.Presentation, error) {
	vals, err := s.rdb.MGet(ctx, s.keys.presentation(id), s.keys.claims(id)).Result()
	if err != nil {
		return nil, wrap(ctx, "read presentation", err)
	}
	rec, ok := vals[0].(string)
	if !ok {
		return nil, fmt.Errorf("redis store: read presentation: %w", store.ErrNotFound)
	}
	var p store.Presentation
	if err := json.Unmarshal([]byte(rec), &p); err != nil {
		return nil, fmt.Errorf("redis store: decode presentation: %w", err)
	}
	// Redis drops the claims at ClaimsEnd; the check here also covers a server clock running late.
	if claims, ok := vals[1].(string); ok && s.now().Before(p.ClaimsEnd()) {
		if err := json.Unmarshal([]byte(claims), &p.Claims); err != nil {
			return nil, fmt.Errorf("redis store: decode claims: %w", err)
		}
	}
	return &p, nil
}

// PresentationByState implements store.Store.
func (s *Store) PresentationByState(ctx context.Context, state string) (*store.Presentation, error) {
	id, err := s.rdb.Get(ctx, s.keys.state(state)).Result()
	if err != nil {
		return nil, wrap(ctx, "read presentation by state", err)
	}
	return s.Presentation(ctx, id)
}

// UpdatePresentation implements store.Store: read, apply fn, compare-and-swap, and again after a lost race.
func (s *Store) UpdatePresentation(ctx context.Context, id string, fn store.PresentationUpdater) (*store.Presentation, error) {
	return optimistic(ctx, "update presentation", func() (*store.Presentation, error) { return s.Presentation(ctx, id) }, fn,
		func(next, cur *store.Presentation, outbox []*store.Delivery) error {
			next.ID, next.State = cur.ID, cur.State
			rec, claims, err := s.encodePresentation(next, cur.Version+1)
			if err != nil {
				return fmt.Errorf("redis store: update presentation: %w", err)
			}
			if err := s.update(ctx, "update presentation", s.keys.presentation(id), s.keys.claims(id), cur.Version, rec,
				store.PresentationTopic(id), claims, next.ClaimsEnd(), outbox); err != nil {
				return err
			}
			next.Version = cur.Version + 1
			return nil
		})
}

// CreateIPASession implements store.Store.
func (s *Store) CreateIPASession(ctx context.Context, v *store.IPASession, outbox ...*store.Delivery) error {
	rec, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("redis store: create ipa session: %w", err)
	}
	keys := []string{s.keys.session(v.ID), s.keys.token(v.TokenHash)}
	return s.create(ctx, "create ipa session", keys, rec, v.ID, v.DropAt(), nil, time.Time{}, outbox)
}

// IPASession implements store.Store.
func (s *Store) IPASession(ctx context.Context, id string) (*store.IPASession, error) {
	rec, err := s.rdb.Get(ctx, s.keys.session(id)).Bytes()
	if err != nil {
		return nil, wrap(ctx, "read ipa session", err)
	}
	var v store.IPASession
	if err := json.Unmarshal(rec, &v); err != nil {
		return nil, fmt.Errorf("redis store: decode ipa session: %w", err)
	}
	return &v, nil
}

// IPASessionByToken implements store.Store.
func (s *Store) IPASessionByToken(ctx context.Context, tokenHash string) (*store.IPASession, error) {
	id, err := s.rdb.Get(ctx, s.keys.token(tokenHash)).Result()
	if err != nil {
		return nil, wrap(ctx, "read ipa session by token", err)
	}
	return s.IPASession(ctx, id)
}

// UpdateIPASession implements store.Store: read, apply fn, compare-and-swap, and again after a lost race.
func (s *Store) UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error) {
	return optimistic(ctx, "update ipa session", func() (*store.IPASession, error) { return s.IPASession(ctx, id) }, fn,
		func(next, cur *store.IPASession, outbox []*store.Delivery) error {
			next.ID, next.TokenHash, next.Version = cur.ID, cur.TokenHash, cur.Version+1
			rec, err := json.Marshal(next)
			if err != nil {
				return fmt.Errorf("redis store: update ipa session: %w", err)
			}
			return s.update(ctx, "update ipa session", s.keys.session(id), "", cur.Version, rec, store.IPATopic(id), nil, time.Time{}, outbox)
		})
}

// optimistic is the update loop of both kinds: read the record, apply fn to a copy, and write it with
// write(next, cur, outbox), whose compare-and-swap on cur's version fails with store.ErrConflict when another
// writer came first; then read and apply again, at most store.MaxUpdateAttempts times.
func optimistic[R interface{ Clone() R }](ctx context.Context, op string, read func() (R, error), fn func(R) ([]*store.Delivery, error),
	write func(next, cur R, outbox []*store.Delivery) error) (R, error) {
	var none R
	for range store.MaxUpdateAttempts {
		cur, err := read()
		if err != nil {
			return none, err
		}
		next := cur.Clone()
		outbox, err := fn(next)
		switch {
		case errors.Is(err, store.ErrUnchanged):
			return cur, err
		case err != nil:
			return none, err
		}
		switch err := write(next, cur, outbox); {
		case errors.Is(err, store.ErrConflict):
			continue
		case err != nil:
			return none, err
		}
		return next, nil
	}
	return none, fmt.Errorf("redis store: %s: %d lost races: %w", op, store.MaxUpdateAttempts, store.ErrConflict)
}

// create runs createScript (createOutboxScript with an outbox); every key expires at dropAt, the claims at
// claimsAt.
func (s *Store) create(ctx context.Context, op string, keys []string, rec []byte, id string, dropAt time.Time, claims []byte, claimsAt time.Time,
	outbox []*store.Delivery) error {
	if len(outbox) > 0 {
		return s.createWithOutbox(ctx, op, keys, rec, id, dropAt, claims, claimsAt, outbox)
	}
	n, err := createScript.Run(ctx, s.rdb, keys, rec, id, unixMilli(dropAt), claims, unixMilli(claimsAt)).Int()
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n == 0 {
		return fmt.Errorf("redis store: %s: %w", op, store.ErrConflict)
	}
	return nil
}

// update runs updateScript on record (with its claims key, "" for none), publishing on topic's channel and
// enqueueing outbox.
func (s *Store) update(ctx context.Context, op, record, claimsKey string, version int64, rec []byte, topic string,
	claims []byte, claimsAt time.Time, outbox []*store.Delivery) error {
	keys := []string{record, s.keys.deliveries(), claimsKey}
	args := []any{version, version + 1, rec, s.keys.channel(topic), claims, unixMilli(claimsAt)}
	for _, d := range outbox {
		body, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("redis store: %s: encode delivery: %w", op, err)
		}
		keys = append(keys, s.keys.delivery(d.ID))
		args = append(args, body, unixMilli(d.CreatedAt.Add(store.Retention)), d.NextAttempt.UnixMilli(), d.ID)
	}
	n, err := updateScript.Run(ctx, s.rdb, keys, args...).Int()
	switch {
	case err != nil:
		return wrap(ctx, op, err)
	case n < 0:
		return fmt.Errorf("redis store: %s: %w", op, store.ErrNotFound)
	case n == 0:
		return fmt.Errorf("redis store: %s: %w", op, store.ErrConflict)
	}
	return nil
}

// encodePresentation returns p's record (with version, without claims) and its claims: nil when there are
// none, or when the request has already expired (they would never be returned).
func (s *Store) encodePresentation(p *store.Presentation, version int64) (rec, claims []byte, err error) {
	c := *p
	c.Claims, c.Version = nil, version
	if rec, err = json.Marshal(&c); err != nil {
		return nil, nil, err
	}
	if p.Claims == nil || !s.now().Before(p.ClaimsEnd()) {
		return rec, nil, nil
	}
	if claims, err = json.Marshal(p.Claims); err != nil {
		return nil, nil, err
	}
	return rec, claims, nil
}

// unixMilli is t for PXAT, which refuses values below 1; a time already past makes Redis drop the key at once.
func unixMilli(t time.Time) int64 {
	return max(t.UnixMilli(), 1)
}
