package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/entra-verifier/entra-verifier/store"
)

// pointerScript creates an id's pointer to its record unless the id is taken: it answers 1 when it wrote.
//
// KEYS: pointer. ARGV: the record's state or token hash, retention end (Unix ms).
var pointerScript = goredis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then return 1 end
return 0`)

// unpointScript removes a pointer that still leads where this create put it (its record was refused).
//
// KEYS: pointer. ARGV: the record's state or token hash.
var unpointScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`)

// enqueueLua is the part of createScript and updateScript that enqueues a record's deliveries: ARGV from
// index from on holds, per delivery, its id, its body ("<end ms>|<JSON>") and its first attempt (Unix ms);
// the queue's two keys live at least life ms from now (never shortened: a timer due far ahead keeps its
// queue).
const enqueueLua = `
local function enqueue(queue, bodies, life, from)
  if #ARGV < from then return end
  for i = from, #ARGV, 3 do
    redis.call('HSET', bodies, ARGV[i], ARGV[i + 1])
    redis.call('ZADD', queue, ARGV[i + 2], ARGV[i])
  end
  life = tonumber(life)
  for _, k in ipairs({queue, bodies}) do
    if redis.call('PTTL', k) < life then redis.call('PEXPIRE', k, life) end
  end
end
`

// versionLua reads a stored record's version. Version is the last field of every record type, so its JSON
// ends with ,"version":N} and the tail is read without decoding the record; a record in any other shape is
// decoded.
const versionLua = `
local function version(rec)
  local v = string.match(string.sub(rec, -32), ',"version":(%d+)}$')
  if v then return tonumber(v) end
  return cjson.decode(rec)['version']
end
`

// createScript stores a record, (for presentations) its claims and the deliveries created with it (its
// expiry timer), unless the record exists: then it writes nothing and answers 0.
//
// KEYS: record, outbox queue, outbox bodies[, claims]. ARGV: record JSON, drop time (Unix ms), claims JSON
// or "", claims end (Unix ms), queue life (ms), then the deliveries (enqueueLua) from 6.
var createScript = goredis.NewScript(enqueueLua + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
if KEYS[4] then
  if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[3], 'PXAT', ARGV[4])
  else redis.call('DEL', KEYS[4]) end
end
enqueue(KEYS[2], KEYS[3], ARGV[5], 6)
return 1`)

// updateScript replaces a record when its stored version equals the expected one, keeping the record's
// expiry (or moving it to a new drop time: journeys), sets or drops its claims, enqueues the deliveries that
// go with the change, and publishes the change, all in the same step. It answers 1 on success, 0 when the
// version differs and -1 when the record is missing.
//
// KEYS: record, outbox queue, outbox bodies[, claims]. ARGV: expected version, new version, record JSON,
// channel, claims JSON or "", claims end (Unix ms), PUBLISH or SPUBLISH, queue life (ms), the record's new
// drop time (Unix ms, or "" to keep its expiry), then the deliveries (enqueueLua) from 10.
var updateScript = goredis.NewScript(enqueueLua + versionLua + `
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if version(cur) ~= tonumber(ARGV[1]) then return 0 end
if ARGV[9] == '' then redis.call('SET', KEYS[1], ARGV[3], 'KEEPTTL')
else redis.call('SET', KEYS[1], ARGV[3], 'PXAT', ARGV[9]) end
if KEYS[4] then
  if ARGV[5] ~= '' then redis.call('SET', KEYS[4], ARGV[5], 'PXAT', ARGV[6])
  else redis.call('DEL', KEYS[4]) end
end
enqueue(KEYS[2], KEYS[3], ARGV[8], 10)
redis.call(ARGV[7], ARGV[4], ARGV[2])
return 1`)

// CreatePresentation implements store.Store: the record, its claims and outbox (its expiry timer) in the
// state's bucket, kept until p.DropAt().
func (s *Store) CreatePresentation(ctx context.Context, p *store.Presentation, outbox ...*store.Delivery) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rec, claims, err := s.encodePresentation(p, p.Version)
	if err != nil {
		return fmt.Errorf("redis store: create presentation: %w", err)
	}
	b := bucketOf(p.State)
	err = s.create(ctx, "create presentation", s.keys.presentationID(p.ID), p.State,
		[]string{s.keys.presentation(p.State), s.keys.queue(b), s.keys.bodies(b), s.keys.claims(p.State)},
		rec, p.DropAt(), claims, p.ClaimsEnd(), outbox)
	if err == nil {
		s.ids.put("p/"+p.ID, p.State)
		c := p.Clone()
		if claims == nil {
			c.Claims = nil
		}
		s.recent.put("p/"+p.ID, c) // the first update of a request created here needs no read
	}
	return err
}

// KnownPresentationState implements verifier.KnownStates: the state of a request this process created,
// read or updated (an id's state never changes).
func (s *Store) KnownPresentationState(id string) (string, bool) { return s.ids.get("p/" + id) }

// Presentation implements store.Store.
func (s *Store) Presentation(ctx context.Context, id string) (*store.Presentation, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	state, err := s.pointer(ctx, "read presentation", "p/"+id, s.keys.presentationID(id))
	if err != nil {
		return nil, err
	}
	p, err := s.presentationByState(ctx, state)
	if err == nil && p.ID != id {
		return nil, fmt.Errorf("redis store: read presentation: %w", store.ErrNotFound)
	}
	return p, err
}

// PresentationByState implements store.Store.
func (s *Store) PresentationByState(ctx context.Context, state string) (*store.Presentation, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	return s.presentationByState(ctx, state)
}

func (s *Store) presentationByState(ctx context.Context, state string) (*store.Presentation, error) {
	vals, err := s.rdb.MGet(ctx, s.keys.presentation(state), s.keys.claims(state)).Result()
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
	s.ids.put("p/"+p.ID, state)
	s.recent.put("p/"+p.ID, p.Clone())
	return &p, nil
}

// UpdatePresentation implements store.Store: read, apply fn, compare-and-swap, and again after a lost race.
func (s *Store) UpdatePresentation(ctx context.Context, id string, fn store.PresentationUpdater) (*store.Presentation, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rec, _ := s.recent.take("p/" + id)
	first, _ := rec.(*store.Presentation)
	read := func() (*store.Presentation, error) { return s.Presentation(ctx, id) }
	return optimistic(ctx, "update presentation", first, read, fn,
		func(next, cur *store.Presentation, outbox []*store.Delivery) error {
			next.ID, next.State = cur.ID, cur.State
			rec, claims, err := s.encodePresentation(next, cur.Version+1)
			if err != nil {
				return fmt.Errorf("redis store: update presentation: %w", err)
			}
			keys := []string{s.keys.presentation(cur.State), "", "", s.keys.claims(cur.State)}
			if err := s.update(ctx, "update presentation", bucketOf(cur.State), keys, cur.Version, rec,
				store.PresentationTopic(id), claims, next.ClaimsEnd(), time.Time{}, outbox); err != nil {
				return err
			}
			next.Version = cur.Version + 1
			if claims == nil { // returned as readers see it: claims not stored never come back
				next.Claims = nil
			}
			// The next update (Microsoft's next callback, when it lands here) starts from what was written;
			// its compare-and-swap catches a change made elsewhere meanwhile.
			s.recent.put("p/"+id, next.Clone())
			return nil
		},
		func(cur *store.Presentation) error { return s.settle(ctx, bucketOf(cur.State)) })
}

// CreateIPASession implements store.Store: the record and its outbox in the token hash's bucket.
func (s *Store) CreateIPASession(ctx context.Context, v *store.IPASession, outbox ...*store.Delivery) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rec, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("redis store: create ipa session: %w", err)
	}
	b := bucketOf(v.TokenHash)
	err = s.create(ctx, "create ipa session", s.keys.sessionID(v.ID), v.TokenHash,
		[]string{s.keys.session(v.TokenHash), s.keys.queue(b), s.keys.bodies(b)}, rec, v.DropAt(), nil, time.Time{}, outbox)
	if err == nil {
		s.ids.put("i/"+v.ID, v.TokenHash)
	}
	return err
}

// IPASession implements store.Store.
func (s *Store) IPASession(ctx context.Context, id string) (*store.IPASession, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	hash, err := s.pointer(ctx, "read ipa session", "i/"+id, s.keys.sessionID(id))
	if err != nil {
		return nil, err
	}
	v, err := s.sessionByToken(ctx, hash)
	if err == nil && v.ID != id {
		return nil, fmt.Errorf("redis store: read ipa session: %w", store.ErrNotFound)
	}
	return v, err
}

// IPASessionByToken implements store.Store.
func (s *Store) IPASessionByToken(ctx context.Context, tokenHash string) (*store.IPASession, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	return s.sessionByToken(ctx, tokenHash)
}

func (s *Store) sessionByToken(ctx context.Context, tokenHash string) (*store.IPASession, error) {
	v, err := getJSON[store.IPASession](ctx, s, "ipa session", s.keys.session(tokenHash))
	if err != nil {
		return nil, err
	}
	s.ids.put("i/"+v.ID, tokenHash)
	s.recent.put("i/"+v.ID, v.Clone())
	return v, nil
}

// getJSON reads the record (what) at key and decodes it.
func getJSON[R any](ctx context.Context, s *Store, what, key string) (*R, error) {
	rec, err := s.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, wrap(ctx, "read "+what, err)
	}
	var r R
	if err := json.Unmarshal(rec, &r); err != nil {
		return nil, fmt.Errorf("redis store: decode %s: %w", what, err)
	}
	return &r, nil
}

// UpdateIPASession implements store.Store: read, apply fn, compare-and-swap, and again after a lost race.
func (s *Store) UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	rec, _ := s.recent.take("i/" + id)
	first, _ := rec.(*store.IPASession)
	read := func() (*store.IPASession, error) { return s.IPASession(ctx, id) }
	return optimistic(ctx, "update ipa session", first, read, fn,
		func(next, cur *store.IPASession, outbox []*store.Delivery) error {
			next.ID, next.TokenHash, next.Version = cur.ID, cur.TokenHash, cur.Version+1
			rec, err := json.Marshal(next)
			if err != nil {
				return fmt.Errorf("redis store: update ipa session: %w", err)
			}
			keys := []string{s.keys.session(cur.TokenHash), "", ""}
			return s.update(ctx, "update ipa session", bucketOf(cur.TokenHash), keys, cur.Version, rec,
				store.IPATopic(id), nil, time.Time{}, time.Time{}, outbox)
		},
		func(cur *store.IPASession) error { return s.settle(ctx, bucketOf(cur.TokenHash)) })
}

// optimistic is the update loop of both kinds: take the record (first, when a read just returned it, else
// read it), apply fn to a copy, and write it with write(next, cur, outbox), whose compare-and-swap on cur's
// version fails with store.ErrConflict when another writer came first; then read and apply again, at most
// store.MaxUpdateAttempts times. fn decides on a fresh read only: whatever it answers on first other than a
// write is asked again of a read. settle(cur) makes an unchanged answer as safe as a write would be.
func optimistic[R interface {
	comparable
	Clone() R
}](ctx context.Context, op string, first R, read func() (R, error), fn func(R) ([]*store.Delivery, error),
	write func(next, cur R, outbox []*store.Delivery) error, settle func(cur R) error) (R, error) {
	var none R
	for range store.MaxUpdateAttempts {
		cur, fresh := first, false
		if first == none {
			var err error
			if cur, err = read(); err != nil {
				return none, err
			}
			fresh = true
		}
		first = none
		next := cur.Clone()
		outbox, err := fn(next)
		switch {
		case err != nil && !fresh:
			continue
		case errors.Is(err, store.ErrUnchanged):
			if err := settle(cur); err != nil {
				return none, err
			}
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

// settle is, in the modes that acknowledge writes, a barrier on bucket b: an answer based on a record read
// from the master counts only once a replica holds it too (the write that made it may not have been
// acknowledged yet).
func (s *Store) settle(ctx context.Context, b int) error {
	if !s.mode.acknowledged() {
		return nil
	}
	return s.barrier(ctx, b)
}

// pointer returns where a record lives (its state or token hash): from memory under name, else from its
// pointer key.
func (s *Store) pointer(ctx context.Context, op, name, key string) (string, error) {
	if v, ok := s.ids.get(name); ok {
		return v, nil
	}
	v, err := s.rdb.Get(ctx, key).Result()
	if err != nil {
		return "", wrap(ctx, op, err)
	}
	s.ids.put(name, v)
	return v, nil
}

// create writes pointer (an id's pointer to where its record lives, or a journey's launch index) leading to
// where, then the record with its outbox (keys: record, outbox queue, outbox bodies[, claims], all in the
// record's bucket); all expire at dropAt, the claims at claimsAt. A record refused (its key taken) takes its
// pointer back.
func (s *Store) create(ctx context.Context, op, pointer, where string, keys []string, rec []byte,
	dropAt time.Time, claims []byte, claimsAt time.Time, outbox []*store.Delivery) error {
	end := unixMilli(dropAt)
	args := []any{rec, end, claims, unixMilli(claimsAt), nil}
	args, life, err := outboxArgs(args, outbox)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	args[4] = life
	cmd, err := s.durable(ctx, pointerScript, []string{pointer}, where, end)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n, _ := cmd.Int(); n == 0 {
		return fmt.Errorf("redis store: %s: %w", op, store.ErrConflict)
	}
	cmd, err = s.durable(ctx, createScript, keys, args...)
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n, _ := cmd.Int(); n == 0 {
		if err := unpointScript.Run(ctx, s.rdb, []string{pointer}, where).Err(); err != nil {
			return wrap(ctx, op, err)
		}
		return fmt.Errorf("redis store: %s: %w", op, store.ErrConflict)
	}
	return nil
}

// outboxArgs appends to args each delivery of outbox as enqueueLua reads it and returns the life its queue
// needs (ms): queueLife, or longer for a delivery that ends later (a timer due far ahead).
func outboxArgs(args []any, outbox []*store.Delivery) ([]any, int64, error) {
	life := queueLife
	for _, d := range outbox {
		body, err := encodeDelivery(d)
		if err != nil {
			return nil, 0, err
		}
		args = append(args, d.ID, body, d.NextAttempt.UnixMilli())
		life = max(life, time.Until(d.CreatedAt.Add(store.Retention))+time.Minute)
	}
	return args, life.Milliseconds(), nil
}

// update runs updateScript on keys (record, "", ""[, claims]: the outbox keys of bucket b are filled in
// here), publishing on topic's channel and enqueueing outbox; a non-zero dropAt moves the record's expiry.
func (s *Store) update(ctx context.Context, op string, b int, keys []string, version int64, rec []byte, topic string,
	claims []byte, claimsAt, dropAt time.Time, outbox []*store.Delivery) error {
	keys[1], keys[2] = s.keys.queue(b), s.keys.bodies(b)
	drop := ""
	if !dropAt.IsZero() {
		drop = strconv.FormatInt(unixMilli(dropAt), 10)
	}
	args := []any{version, version + 1, rec, s.keys.channel(b, topic), claims, unixMilli(claimsAt),
		s.pubsub.publish, nil, drop}
	args, life, err := outboxArgs(args, outbox)
	if err != nil {
		return fmt.Errorf("redis store: %s: %w", op, err)
	}
	args[7] = life
	cmd, err := s.durable(ctx, updateScript, keys, args...)
	if err != nil {
		return wrap(ctx, op, err)
	}
	switch n, _ := cmd.Int(); {
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
