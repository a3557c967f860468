// Package redis is the shared store: every replica of a deployment points at one Redis deployment (a single
// server, a Sentinel-managed master and its replicas, or a Redis Cluster), so a request created through one
// replica can be completed, read and watched through any other.
//
// Records are JSON strings that carry their version, kept until their DropAt (store.Retention after creation,
// longer for a journey's steps; a journey's moves with its expiry); a presentation's claims live in a key of
// their own that Redis deletes at their end. A create stores its record's outbox (its expiry timer) in the
// same script, in the record's bucket queue. Creates and
// compare-and-swap updates are Lua scripts that declare every key they touch, all in the record's hash-tag
// bucket (see keys.go), so they are atomic across replicas and run on Redis Cluster; an update publishes its
// notification and enqueues its deliveries in the same script. With Sentinel or Cluster a write is answered
// only once a replica acknowledged it (WAIT), so a failover loses nothing the service acknowledged.
// Watchers of one process share one pub/sub connection per shard, checked by a heartbeat.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/entra-verifier/entra-verifier/store"
)

// DefaultPrefix starts every key and channel when Options.Prefix is empty.
const DefaultPrefix = "entra-verifier:"

// DefaultCallTimeout bounds every store call when Options.CallTimeout is zero: a hung server becomes a fast
// 503 rather than a pile of waiting requests.
const DefaultCallTimeout = time.Second

// Options tune a Store; the zero value is usable.
type Options struct {
	// Mode picks the client and the URL form (VERIFIER_REDIS_MODE); empty means ModeSingle.
	Mode Mode
	// Prefix starts every key and channel, keeping deployments that share one server apart; empty means
	// DefaultPrefix. It may not hold '{' or '}' (they would change the keys' hash tags).
	Prefix string
	// CallTimeout is the deadline of one store call; zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store implements store.Store on Redis. Create it with Open and Close it when done.
type Store struct {
	rdb     goredis.UniversalClient
	mode    Mode
	keys    keys
	now     func() time.Time
	timeout time.Duration
	pubsub  *pubsubs
	ids     cache[string] // where an id's record lives
	recent  cache[any]    // the record last created, read or written, by id
	leased  cache[int]    // the bucket of each delivery claimed here
	probe   probe
	trips   trips
	// committers group the writes of concurrent calls by master (see commit.go); their flushers end when
	// commitStop is closed.
	commitMu   sync.Mutex
	committers map[string]*committer
	commitStop chan struct{}
	// closeOnce guards the client's Close (go-redis answers an error to a second one).
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to Redis at url, read by go-redis's parser for opts.Mode, and checks that it answers. An
// unreachable server gives an error wrapping store.ErrUnavailable.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	useSlog()
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if err := CheckPrefix(opts.Prefix); err != nil {
		return nil, err
	}
	if opts.Mode == "" {
		opts.Mode = ModeSingle
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	rdb, err := newClient(url, opts.Mode, "", 0)
	if err != nil {
		return nil, err
	}
	// The pub/sub connections get a client of their own, named so an operator (or a test) can tell them apart.
	name := "entra-verifier-pubsub-" + rand.Text()[:10]
	sub, err := newClient(url, opts.Mode, name, 1)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	s := &Store{rdb: rdb, mode: opts.Mode, keys: keys{prefix: opts.Prefix}, now: opts.Now, timeout: opts.CallTimeout,
		commitStop: make(chan struct{})}
	s.trips.count(rdb)
	pctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.rdb.Ping(pctx).Err(); err != nil {
		_ = s.rdb.Close()
		_ = sub.Close()
		return nil, wrap(ctx, "open", err)
	}
	s.pubsub = newPubsubs(s, sub, name)
	return s, nil
}

// CheckPrefix refuses a key prefix holding '{' or '}': they would change the keys' hash tags.
func CheckPrefix(prefix string) error {
	if strings.ContainsAny(prefix, "{}") {
		return errors.New("redis store: the key prefix may not contain '{' or '}'")
	}
	return nil
}

// call gives one store call its deadline.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Close stops the watchers (closing their channels) and the write flushers, and closes the connection
// pools. It is safe to call more than once.
func (s *Store) Close() error {
	s.stopCommitters()
	var err error
	if s.pubsub != nil {
		err = s.pubsub.close()
	}
	s.closeOnce.Do(func() { err = errors.Join(err, s.rdb.Close()) })
	s.probe.mu.Lock()
	s.probe.at = time.Time{} // no proof outlives the store
	s.probe.mu.Unlock()
	return err
}

// wrap turns a go-redis error into the store's: redis.Nil is store.ErrNotFound, a cancelled context stays
// itself, anything else (network, timeout, READONLY, OOM, no replica acknowledgement) wraps
// store.ErrUnavailable.
func wrap(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, goredis.Nil):
		return fmt.Errorf("redis store: %s: %w", op, store.ErrNotFound)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return fmt.Errorf("redis store: %s: %w", op, err)
	default:
		return fmt.Errorf("redis store: %s: %w: %w", op, store.ErrUnavailable, err)
	}
}
