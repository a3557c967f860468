package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/entra-verifier/entra-verifier/store"
)

// setScript sets a key that expires at a given time, through the durable path (a script, so WAIT follows it
// on the same connection in the modes that acknowledge writes).
//
// KEYS: the key. ARGV: its value, its expiry (Unix ms).
var setScript = goredis.NewScript(`redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2]) return 1`)

// owner is the owner index's key for one browser and kind, P o:{b}:<ownerHash>:<kind>: every kind of one
// browser's entries is in the bucket of its owner hash.
func (k keys) owner(ownerHash string, kind store.Kind) string {
	return k.in("o", bucketOf(ownerHash), ownerHash+":"+string(kind))
}

// SetNewest implements store.Owners: one string key per browser and kind, expiring at until.
func (s *Store) SetNewest(ctx context.Context, ownerHash string, kind store.Kind, id string, until time.Time) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.durable(ctx, setScript, []string{s.keys.owner(ownerHash, kind)}, id, unixMilli(until))
	return wrap(ctx, "set newest", err)
}

// Newest implements store.Owners.
func (s *Store) Newest(ctx context.Context, ownerHash string, kind store.Kind) (string, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	id, err := s.rdb.Get(ctx, s.keys.owner(ownerHash, kind)).Result()
	if err != nil {
		return "", wrap(ctx, "read newest", err)
	}
	return id, nil
}
