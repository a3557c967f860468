package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// probeEvery is how often Ping proves a write at most; between probes it answers the last result, which
// is never older than probeEvery counted from the start of its probe. probeTimeout bounds one probe (less
// than the call deadline): a fault shows in /readyz within probeEvery + probeTimeout = 1.75 s, a recovery
// within probeEvery plus one quick probe.
const (
	probeEvery   = time.Second
	probeTimeout = 750 * time.Millisecond
)

// probeScript writes a short-lived key: refused like any write on a replica (READONLY) or a full server (OOM).
var probeScript = goredis.NewScript(`redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1`)

// probe caches the last write proof; its mutex makes parallel callers share one probe.
type probe struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// Ping implements store.Store: it proves that the store accepts a callback now, by a real write through the
// path callbacks take (with the replica acknowledgement where they wait for one), at most once a second.
// On Cluster the probe proves the shard of one bucket.
func (s *Store) Ping(ctx context.Context) error {
	s.probe.mu.Lock()
	defer s.probe.mu.Unlock()
	if !s.probe.at.IsZero() && time.Since(s.probe.at) < probeEvery {
		return s.probe.err
	}
	start := time.Now()
	probe, cancel := context.WithTimeout(ctx, min(probeTimeout, s.timeout))
	defer cancel()
	err := s.barrier(probe, 0)
	if ctx.Err() == nil { // a caller's own cancellation says nothing about the store
		s.probe.at, s.probe.err = start, err
	}
	return err
}

// barrier writes the probe key of bucket b through the durable path. Replication keeps the master's order,
// so once a replica acknowledged it, it holds every write of that master before it too: this is how a
// callback answered from what is already stored (no write of its own) still waits for its record to be safe.
func (s *Store) barrier(ctx context.Context, b int) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.durable(ctx, probeScript, []string{s.keys.probe(b)}, "1", (10 * time.Second).Milliseconds())
	return wrap(ctx, "ping", err)
}
