package redis_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/redis"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

// aclURL creates a Redis user allowed only keys and channels under prefix (~prefix* &prefix*) and returns
// REDIS_URL logged in as that user; the user is deleted when the test ends.
func aclURL(t *testing.T, prefix string) string {
	t.Helper()
	rdb := admin(t)
	user, pass := "entra-verifier-test-"+rand.Text()[:8], rand.Text()
	require.NoError(t, rdb.Do(t.Context(), "ACL", "SETUSER", user, "reset", "on", ">"+pass,
		"~"+prefix+"*", "&"+prefix+"*", "+@all").Err())
	t.Cleanup(func() { _ = rdb.Do(context.Background(), "ACL", "DELUSER", user).Err() })
	u, err := url.Parse(redisURL())
	require.NoError(t, err)
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// Every flow of the store runs as a user limited to the prefix: no script names a key (or channel) outside
// it, and none passes an empty key.
func TestACLUserLimitedToThePrefix(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		prefix := newPrefix(t)
		return open(t, aclURL(t, prefix), prefix)
	})
}

func TestACLUserIsRefusedOutsideThePrefix(t *testing.T) {
	prefix := newPrefix(t)
	o, err := goredis.ParseURL(aclURL(t, prefix))
	require.NoError(t, err)
	o.DisableIdentity = true
	c := goredis.NewClient(o)
	defer c.Close()
	assert.ErrorContains(t, c.Set(t.Context(), "elsewhere", "1", time.Second).Err(), "NOPERM", "the ACL is in force")
}

// After a bounded run of every kind of write, every key under the prefix has a TTL, on every topology.
func TestEveryKeyHasATTL(t *testing.T) {
	for _, tp := range []topology{single, sentinel, cluster} {
		t.Run(string(tp.mode), func(t *testing.T) {
			prefix := tp.newPrefix(t)
			s := tp.openPrefix(t, prefix)
			ctx := t.Context()
			now := time.Now()
			for i := range 20 {
				p := storetest.NewPresentation(time.Minute)
				require.NoError(t, s.CreatePresentation(ctx, p))
				d := &store.Delivery{ID: "msg_" + storetest.ID(), Body: []byte(`{}`), NextAttempt: now, CreatedAt: now}
				_, err := s.UpdatePresentation(ctx, p.ID, func(p *store.Presentation) ([]*store.Delivery, error) {
					p.Status, p.Claims = store.PresentationVerified, map[string]any{"firstName": "Megan"}
					return []*store.Delivery{d}, nil
				})
				require.NoError(t, err)
				v := storetest.NewIPASession(time.Minute)
				require.NoError(t, s.CreateIPASession(ctx, v))
				_, err = s.UpdateIPASession(ctx, v.ID, func(v *store.IPASession) ([]*store.Delivery, error) {
					v.Status = store.IPACompleted
					return nil, nil
				})
				require.NoError(t, err)
				w, cancel := context.WithCancel(ctx)
				_, err = s.Watch(w, store.IPATopic(v.ID))
				require.NoError(t, err)
				cancel()
				_, _, err = s.Allow(ctx, "ip:"+storetest.ID(), 5, time.Minute)
				require.NoError(t, err)

				// journeys, their steps' records created with timers, the owner indexes
				j := storetest.NewJourney(time.Hour)
				require.NoError(t, s.CreateJourney(ctx, j, store.NewTimer(store.TimerJourney, j.ID, j.ExpiresAt)))
				_, err = s.UpdateJourney(ctx, j.ID, func(j *store.Journey) ([]*store.Delivery, error) {
					j.OwnerHash, j.OpenedAt, j.ExpiresAt = "owner-"+storetest.ID(), now, now.Add(store.OpenedLifetime)
					return []*store.Delivery{store.NewTimer(store.TimerJourney, j.ID, j.ExpiresAt)}, nil
				})
				require.NoError(t, err)
				owner := "owner-" + storetest.ID()
				require.NoError(t, s.SetNewest(ctx, owner, store.KindJourney, j.ID, j.DropAt()))
				step := storetest.NewPresentation(time.Minute)
				step.Journey = j.Ref(true)
				require.NoError(t, s.CreatePresentation(ctx, step, store.NewTimer(store.TimerPresentation, step.ID, step.ExpiresAt)))
				sv := storetest.NewIPASession(time.Minute)
				sv.Journey = j.Ref(false)
				require.NoError(t, s.CreateIPASession(ctx, sv, store.NewTimer(store.TimerIPA, sv.ID, sv.ExpiresAt)))
				require.NoError(t, s.SetNewest(ctx, owner, store.KindPresentation, step.ID, step.DropAt()))
				require.NoError(t, s.SetNewest(ctx, owner, store.KindIPASession, sv.ID, sv.DropAt()))
				if i%2 == 0 {
					got, err := s.ClaimDelivery(ctx, now, time.Minute)
					require.NoError(t, err)
					got.NextAttempt = now.Add(time.Minute)
					require.NoError(t, s.RetryDelivery(ctx, got))
				}
			}
			require.NoError(t, s.Ping(ctx))

			var seen int
			tp.scan(t, prefix, func(c goredis.Cmdable, keys []string) {
				for _, k := range keys {
					seen++
					ttl, err := c.PTTL(ctx, k).Result()
					require.NoError(t, err)
					assert.Positive(t, ttl, "key %s has no TTL", k)
				}
			})
			assert.Greater(t, seen, 200, "keys scanned")

			// A timer due far ahead keeps its queue (and the queue's bodies) until its own end at least.
			far := storetest.NewJourney(200 * time.Hour)
			timer := store.NewTimer(store.TimerJourney, far.ID, far.ExpiresAt)
			require.NoError(t, s.CreateJourney(ctx, far, timer))
			var queueKeys int
			tp.scan(t, prefix, func(c goredis.Cmdable, keys []string) {
				for _, k := range keys {
					if !strings.Contains(k, "dq:"+redis.Tag(redis.BucketOf(far.ID))) && !strings.Contains(k, "dd:"+redis.Tag(redis.BucketOf(far.ID))) {
						continue
					}
					ttl, err := c.PTTL(ctx, k).Result()
					require.NoError(t, err)
					assert.Greater(t, ttl, time.Until(timer.CreatedAt.Add(store.Retention)), "queue key %s outlives the timer", k)
					queueKeys++
				}
			})
			assert.Equal(t, 2, queueKeys, "the queue and its bodies")
		})
	}
}
