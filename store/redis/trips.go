package redis

import (
	"context"
	"net"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

// trips counts the round trips the store's client makes to Redis: one per command sent alone, one per
// pipeline (a script with its WAIT is one), counted per node on Cluster, where a pipeline spanning several
// masters is one round trip to each. Pub/sub connections are not counted. It is how the load tool tells
// how many round trips a callback costs without MONITOR.
type trips struct{ n atomic.Uint64 }

func (t *trips) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (t *trips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		t.n.Add(1)
		return next(ctx, cmd)
	}
}

func (t *trips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		t.n.Add(1)
		return next(ctx, cmds)
	}
}

// count installs t on c: on the client itself, or on every node of a cluster client as it is created.
func (t *trips) count(c goredis.UniversalClient) {
	if cc, ok := c.(*goredis.ClusterClient); ok {
		cc.OnNewNode(func(node *goredis.Client) { node.AddHook(t) })
		return
	}
	c.AddHook(t)
}

// RoundTrips is the number of round trips the store made to Redis so far (see trips); the server exports
// it as verifier_store_round_trips_total.
func (s *Store) RoundTrips() uint64 { return s.trips.n.Load() }
