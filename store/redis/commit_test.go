package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

// TestGroupCommit: concurrent writes share pipelines (fewer round trips than writes, one WAIT per pipeline
// on Sentinel and Cluster), each answered with its own result; after the server forgot its scripts (a
// restart, a failover), the writes of a pipeline that met NOSCRIPT are sent again and all land.
func TestGroupCommit(t *testing.T) {
	const writes = 64
	for _, tp := range []topology{single, sentinel, cluster} {
		t.Run(string(tp.mode), func(t *testing.T) {
			s := tp.open(t)
			ctx := t.Context()
			ps := make([]*store.Presentation, writes)
			for i := range ps {
				ps[i] = storetest.NewPresentation(time.Minute)
				require.NoError(t, s.CreatePresentation(ctx, ps[i]))
			}
			round := func(to store.PresentationStatus) uint64 {
				before := s.RoundTrips()
				start := make(chan struct{})
				var wg sync.WaitGroup
				errs := make([]error, writes)
				for i, p := range ps {
					wg.Go(func() {
						<-start
						_, errs[i] = s.UpdatePresentation(ctx, p.ID, func(p *store.Presentation) ([]*store.Delivery, error) {
							p.Status = to
							return nil, nil
						})
					})
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					require.NoError(t, err, "write %d", i)
				}
				return s.RoundTrips() - before
			}
			trips := round(store.PresentationRetrieved)
			t.Logf("%d concurrent writes in %d round trips", writes, trips)
			assert.Less(t, trips, uint64(writes/2))

			flushScripts(t, tp)
			round(store.PresentationVerified)
			for _, p := range ps {
				got, err := s.Presentation(ctx, p.ID)
				require.NoError(t, err)
				assert.Equal(t, store.PresentationVerified, got.Status)
				assert.EqualValues(t, 2, got.Version, "each write applied once")
			}
		})
	}
}

// flushScripts makes every master of tp forget its scripts.
func flushScripts(t *testing.T, tp topology) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c := tp.admin(t)
	if cc, ok := c.(*goredis.ClusterClient); ok {
		require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
			return m.ScriptFlush(ctx).Err()
		}))
		return
	}
	require.NoError(t, c.ScriptFlush(ctx).Err())
}

// TestWritesAfterCloseAreRefused: once the Store is closed its flushers are gone, and a write is answered
// at once with the store's closed error rather than left to its deadline.
func TestWritesAfterCloseAreRefused(t *testing.T) {
	s := single.open(t)
	ctx := t.Context()
	p := storetest.NewPresentation(time.Minute)
	require.NoError(t, s.CreatePresentation(ctx, p)) // the master's flusher is running
	require.NoError(t, s.Close())
	_, err := s.UpdatePresentation(ctx, p.ID, func(p *store.Presentation) ([]*store.Delivery, error) {
		p.Status = store.PresentationRetrieved
		return nil, nil
	})
	require.ErrorIs(t, err, store.ErrUnavailable)
	assert.ErrorContains(t, err, "closed")
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}
