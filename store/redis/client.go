package redis

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Mode is how the service reaches Redis (VERIFIER_REDIS_MODE): it picks go-redis's URL parser and client.
type Mode string

// The modes of SPEC §10.
const (
	// ModeSingle is one server, or a managed endpoint that hides its failover: redis://host:port/db.
	ModeSingle Mode = "single"
	// ModeSentinel finds the master through Sentinel: redis://sentinel:26379/db?master_name=NAME&addr=….
	ModeSentinel Mode = "sentinel"
	// ModeCluster is Redis Cluster: redis://node:6379?addr=node2:6379&….
	ModeCluster Mode = "cluster"
)

// acknowledged reports whether a write must be acknowledged by a replica before it counts as done: where a
// failover can promote a replica, a write only the old master held would be lost.
func (m Mode) acknowledged() bool { return m == ModeSentinel || m == ModeCluster }

// Timeouts applied when the URL does not set its own (dial_timeout, read_timeout, write_timeout, pool_size).
const (
	dialTimeout  = time.Second
	ioTimeout    = 2 * time.Second
	poolPerCPU   = 10
	maxRetries   = 1
	dialAttempts = 2
	// clusterReload bounds how stale the cluster's slot map gets: go-redis refreshes it on MOVED, but a dead
	// master's refused connections alone do not tell it to.
	clusterReload = 2 * time.Second
)

// urlForms are the REDIS_URL forms of the modes, for messages.
var urlForms = map[Mode]string{
	ModeSingle:   "redis://[user:pass@]host:port/db",
	ModeSentinel: "redis://[user:pass@]sentinel:26379/db?master_name=NAME&addr=sentinel2:26379",
	ModeCluster:  "redis://[user:pass@]node:6379?addr=node2:6379",
}

// URLForm is the REDIS_URL form of mode (rediss:// for TLS), "" for an unknown mode.
func URLForm(mode Mode) string { return urlForms[mode] }

// CheckURL reports whether url is a REDIS_URL of mode, read by go-redis's own parser for it, as Open reads
// it. The error never repeats the URL: it may hold a password.
func CheckURL(url string, mode Mode) error {
	_, err := parseURL(url, mode)
	return err
}

// errInvalidURL never repeats the URL: it may hold a password.
func errInvalidURL(mode Mode) error {
	return fmt.Errorf("redis store: invalid REDIS_URL for VERIFIER_REDIS_MODE=%s (expected %s or rediss://…)", mode, urlForms[mode])
}

// tuning points at the settings every go-redis options struct shares, so one function fills in what the
// URL leaves unset whatever the mode.
type tuning struct {
	dial, read, write        *time.Duration
	pool, retries, dialTries *int
	name                     *string
	noIdentity, ctxTimeout   *bool
}

func (t tuning) apply(name string) {
	*t.noIdentity = true // no CLIENT SETINFO: Redis 7.0 answers ERR
	*t.ctxTimeout = true
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{t.dial, dialTimeout}, {t.read, ioTimeout}, {t.write, ioTimeout}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if *t.pool == 0 {
		*t.pool = poolPerCPU * runtime.GOMAXPROCS(0)
	}
	// One retry covers a pooled connection that died with a server restart; more would only delay the 503.
	// A retried create or update can at worst answer ErrConflict for a write that went through: callers
	// re-read on conflict.
	if *t.retries == 0 {
		*t.retries = maxRetries
	}
	*t.dialTries = dialAttempts
	if name != "" {
		*t.name = name
	} else if *t.name == "" {
		*t.name = "entra-verifier"
	}
}

var noMaint = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}

// parseURL reads url with go-redis's own parser for mode: *goredis.Options, *goredis.FailoverOptions or
// *goredis.ClusterOptions.
func parseURL(url string, mode Mode) (any, error) {
	var o any
	var err error
	switch mode {
	case ModeSingle, "":
		mode = ModeSingle
		o, err = goredis.ParseURL(url)
	case ModeSentinel:
		var f *goredis.FailoverOptions
		if f, err = goredis.ParseFailoverURL(url); err == nil && f.MasterName == "" {
			err = errors.New("no master_name")
		}
		o = f
	case ModeCluster:
		o, err = goredis.ParseClusterURL(url)
	default:
		return nil, fmt.Errorf("redis store: unknown VERIFIER_REDIS_MODE %q (use single, sentinel or cluster)", mode)
	}
	if err != nil {
		return nil, errInvalidURL(mode)
	}
	return o, nil
}

// newClient parses url with go-redis's own parser for mode and returns the client; name, when given,
// overrides the client name and pool caps the pool (0: the URL's or the default).
func newClient(url string, mode Mode, name string, pool int) (goredis.UniversalClient, error) {
	opts, err := parseURL(url, mode)
	if err != nil {
		return nil, err
	}
	switch o := opts.(type) {
	case *goredis.ClusterOptions:
		tuning{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolSize, &o.MaxRetries, &o.DialerRetries,
			&o.ClientName, &o.DisableIdentity, &o.ContextTimeoutEnabled}.apply(name)
		o.MaintNotificationsConfig = noMaint
		if o.ClusterStateReloadInterval == 0 {
			o.ClusterStateReloadInterval = clusterReload
		}
		if pool > 0 {
			o.PoolSize = pool
		}
		return goredis.NewClusterClient(o), nil
	case *goredis.Options:
		tuning{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolSize, &o.MaxRetries, &o.DialerRetries,
			&o.ClientName, &o.DisableIdentity, &o.ContextTimeoutEnabled}.apply(name)
		o.MaintNotificationsConfig = noMaint
		if pool > 0 {
			o.PoolSize = pool
		}
		return goredis.NewClient(o), nil
	case *goredis.FailoverOptions:
		tuning{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolSize, &o.MaxRetries, &o.DialerRetries,
			&o.ClientName, &o.DisableIdentity, &o.ContextTimeoutEnabled}.apply(name)
		if pool > 0 {
			o.PoolSize = pool
		}
		return goredis.NewFailoverClient(o), nil
	default:
		panic(fmt.Sprintf("redis store: parseURL gave %T", opts))
	}
}

// errNoAck is a write no replica acknowledged in time: it may be lost in a failover, so it is not reported
// as done.
var errNoAck = errors.New("no replica acknowledged the write")

// ackTimeout is how long a write waits for a replica (WAIT 1 1000), shortened to fit the call's deadline.
const ackTimeout = time.Second

// master is the client whose connections reach the master holding key, and that master's address: the
// store's own client (and ""), except on Cluster, where WAIT must go to the node that took the write.
func (s *Store) master(ctx context.Context, key string) (goredis.Cmdable, string, error) {
	c, ok := s.rdb.(*goredis.ClusterClient)
	if !ok {
		return s.rdb, "", nil
	}
	node, err := c.MasterForKey(ctx, key)
	if err != nil {
		return nil, "", s.failed(err)
	}
	return node, node.Options().Addr, nil
}

// failed passes err on, first asking a cluster client to refresh its slot map: the error may mean the
// master moved.
func (s *Store) failed(err error) error {
	if c, ok := s.rdb.(*goredis.ClusterClient); ok && !errors.Is(err, context.Canceled) {
		c.ReloadState(context.Background())
	}
	return err
}

// ackWait is ackTimeout, or less when ctx ends sooner (leaving a little for the answer to travel).
func (s *Store) ackWait(ctx context.Context) time.Duration {
	wait := ackTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-50*time.Millisecond)
	}
	return max(wait, time.Millisecond)
}
