// Package redis is the shared store: every replica of a deployment points at one Redis server, so a request
// created through one replica can be completed, read and watched through any other.
//
// Records are JSON strings that carry their version, kept until store.Retention after creation; a
// presentation's claims live in a key of their own that Redis deletes at the request's expiry. Creates and
// compare-and-swap updates are Lua scripts, so they are atomic across replicas, and an update publishes its
// notification in the same script. Watchers of one process share a single pub/sub connection.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/entra-verifier/entra-verifier/store"
)

// DefaultPrefix starts every key and channel when Options.Prefix is empty.
const DefaultPrefix = "entra-verifier:"

// Timeouts applied when the URL does not set its own (dial_timeout, read_timeout, write_timeout, pool_size).
const (
	dialTimeout  = 2 * time.Second
	ioTimeout    = 2 * time.Second
	poolPerCPU   = 10
	maxRetries   = 1
	dialAttempts = 2
)

// Options tune a Store; the zero value is usable.
type Options struct {
	// Prefix starts every key and channel, keeping deployments that share one server apart; empty means
	// DefaultPrefix.
	Prefix string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store implements store.Store on a Redis server. Create it with Open and Close it when done.
type Store struct {
	rdb    *goredis.Client
	keys   keys
	now    func() time.Time
	pubsub *pubsub
	// closeOnce guards the client's Close (go-redis answers an error to a second one).
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the Redis server at url (redis://[user:password@]host:port/db, or rediss:// for TLS) and
// checks that it answers. An unreachable server gives an error wrapping store.ErrUnavailable.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	useSlog()
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	clientOpts, err := clientOptions(url, "")
	if err != nil {
		return nil, err
	}
	// The pub/sub connection gets a client of its own, named so an operator (or a test) can tell it apart.
	subOpts, err := clientOptions(url, "entra-verifier-pubsub-"+rand.Text()[:10])
	if err != nil {
		return nil, err
	}
	subOpts.PoolSize = 1

	s := &Store{rdb: goredis.NewClient(clientOpts), keys: keys{prefix: opts.Prefix}, now: opts.Now}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		_ = s.rdb.Close()
		return nil, wrap(ctx, "open", err)
	}
	s.pubsub = newPubsub(goredis.NewClient(subOpts))
	return s, nil
}

// clientOptions parses url and fills in what it leaves unset; name, when given, overrides the client name.
func clientOptions(url, name string) (*goredis.Options, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		// The URL may hold a password: never repeat it.
		return nil, errors.New("redis store: invalid REDIS_URL (expected redis://host:port/db or rediss://…)")
	}
	o.DisableIdentity = true // no CLIENT SETINFO: Redis 7.0 answers ERR
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	o.ContextTimeoutEnabled = true
	if o.DialTimeout == 0 {
		o.DialTimeout = dialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = ioTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = ioTimeout
	}
	if o.PoolSize == 0 {
		o.PoolSize = poolPerCPU * runtime.GOMAXPROCS(0)
	}
	// One retry covers a pooled connection that died with a server restart; more would only delay the 503.
	// A retried create or update can at worst answer ErrConflict for a write that went through: callers
	// re-read on conflict.
	if o.MaxRetries == 0 {
		o.MaxRetries = maxRetries
	}
	o.DialerRetries = dialAttempts
	if name != "" {
		o.ClientName = name
	} else if o.ClientName == "" {
		o.ClientName = "entra-verifier"
	}
	return o, nil
}

// Ping implements store.Store: it round-trips the server.
func (s *Store) Ping(ctx context.Context) error {
	return wrap(ctx, "ping", s.rdb.Ping(ctx).Err())
}

// Close stops the watchers (closing their channels) and closes both connection pools. It is safe to call
// more than once.
func (s *Store) Close() error {
	var err error
	if s.pubsub != nil {
		err = s.pubsub.close()
	}
	s.closeOnce.Do(func() { err = errors.Join(err, s.rdb.Close()) })
	return err
}

// wrap turns a go-redis error into the store's: redis.Nil is store.ErrNotFound, a cancelled context stays
// itself, anything else (network, timeout, server error) wraps store.ErrUnavailable.
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

// keys builds every key and channel name; the kind tags never contain ':' so no two kinds can collide.
type keys struct{ prefix string }

func (k keys) presentation(id string) string { return k.prefix + "p:" + id }
func (k keys) claims(id string) string       { return k.prefix + "pc:" + id }
func (k keys) state(state string) string     { return k.prefix + "ps:" + state }
func (k keys) session(id string) string      { return k.prefix + "i:" + id }
func (k keys) token(hash string) string      { return k.prefix + "it:" + hash }
func (k keys) channel(topic string) string   { return k.prefix + "w:" + topic }
func (k keys) limit(key string) string       { return k.prefix + "rl:" + key }
func (k keys) deliveries() string            { return k.prefix + "dq" }
func (k keys) delivery(id string) string     { return k.prefix + "d:" + id }
