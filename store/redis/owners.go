package redis

import (
	"context"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// owner is the owner index's key for one browser and kind: {ownerHash} is its hash tag, so every kind of
// one browser's entries lands in the same Redis Cluster slot.
func (k keys) owner(ownerHash string, kind store.Kind) string {
	return k.prefix + "o:{" + ownerHash + "}:" + string(kind)
}

// SetNewest implements store.Owners: one string key per browser and kind, expiring at until.
func (s *Store) SetNewest(ctx context.Context, ownerHash string, kind store.Kind, id string, until time.Time) error {
	err := s.rdb.Do(ctx, "SET", s.keys.owner(ownerHash, kind), id, "PXAT", unixMilli(until)).Err()
	return wrap(ctx, "set newest", err)
}

// Newest implements store.Owners.
func (s *Store) Newest(ctx context.Context, ownerHash string, kind store.Kind) (string, error) {
	id, err := s.rdb.Get(ctx, s.keys.owner(ownerHash, kind)).Result()
	if err != nil {
		return "", wrap(ctx, "read newest", err)
	}
	return id, nil
}
