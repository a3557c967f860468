package redis_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/redis"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

func TestKeysExpire(t *testing.T) {
	rdb := admin(t)
	prefix := newPrefix(t)
	s := open(t, redisURL(), prefix)
	ctx := t.Context()

	p := storetest.NewPresentation(10 * time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p))
	p.Status, p.Claims = store.PresentationVerified, map[string]any{"firstName": "Megan"}
	storetest.Put(t, s, p)
	v := storetest.NewIPASession(30 * time.Minute)
	require.NoError(t, s.CreateIPASession(ctx, v))
	v.Status = store.IPACompleted
	storetest.PutSession(t, s, v)

	retained := func(created time.Time) time.Time { return created.Add(store.Retention) }
	tests := []struct {
		name string
		key  string
		at   time.Time
	}{
		{"presentation (by state)", redis.PresentationKey(prefix, p.State), retained(p.CreatedAt)},
		{"presentation id", redis.PresentationIDKey(prefix, p.ID), retained(p.CreatedAt)},
		{"claims", redis.ClaimsKey(prefix, p.State), p.ExpiresAt},
		{"ipa session (by token)", redis.SessionKey(prefix, v.TokenHash), retained(v.CreatedAt)},
		{"ipa session id", redis.SessionIDKey(prefix, v.ID), retained(v.CreatedAt)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at, err := rdb.PExpireTime(ctx, tc.key).Result()
			require.NoError(t, err)
			assert.Equal(t, tc.at.UnixMilli(), at.Milliseconds(), "PEXPIRETIME of %s (kept across the update)", tc.key)
		})
	}
}

func TestClaimsDisappearAtExpiry(t *testing.T) {
	rdb := admin(t)
	prefix := newPrefix(t)
	s := open(t, redisURL(), prefix)
	ctx := t.Context()

	p := storetest.NewPresentation(500 * time.Millisecond)
	p.Claims = map[string]any{"firstName": "Megan"}
	require.NoError(t, s.CreatePresentation(ctx, p), "claims given at create are stored too")
	claims := redis.ClaimsKey(prefix, p.State)
	require.EqualValues(t, 1, rdb.Exists(ctx, claims).Val())

	time.Sleep(time.Until(p.ExpiresAt) + 20*time.Millisecond)
	// Not read through the store first: Redis itself deleted the claims.
	assert.Equal(t, goredis.Nil, rdb.Get(ctx, claims).Err(), "claims still stored after the request expired")
	got, err := s.Presentation(ctx, p.ID)
	require.NoError(t, err)
	assert.Nil(t, got.Claims)

	got.Status, got.Claims = store.PresentationVerified, map[string]any{"firstName": "late"}
	storetest.Put(t, s, got)
	assert.EqualValues(t, 0, rdb.Exists(ctx, claims).Val(), "claims of an expired request are never stored")
}
