package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/entra-verifier/entra-verifier/store"
)

const (
	// subscribeTimeout bounds how long Watch waits for Redis to confirm a new subscription.
	subscribeTimeout = 5 * time.Second
	// resubscribeEvery is the pause before a failed SUBSCRIBE is sent again.
	resubscribeEvery = 250 * time.Millisecond
	// subscribeBatch caps the channels named in one SUBSCRIBE or UNSUBSCRIBE.
	subscribeBatch = 500
	// heartbeatEvery is how often each pub/sub connection publishes to itself; heartbeatSilence is how long
	// it may hear nothing before it is replaced (a master that went away, or one demoted to replica, may
	// leave it open and silent), which tells every watcher to re-read.
	heartbeatEvery   = time.Second
	heartbeatSilence = 3 * time.Second
)

// errClosed is returned by Watch on a closed Store.
var errClosed = errors.New("redis store: closed")

// Watch implements store.Store. It returns once Redis has confirmed the subscription, so no update made
// after it returns is missed. Besides one signal per update, a watcher receives one when the pub/sub
// connection has been re-established (an update may have been missed while it was down). The channel is
// closed when ctx ends or the Store is closed. A record's channel is in its own bucket, found through its
// id: a watch of a record not stored yet hears nothing of it.
//
// Watch first proves the server takes writes (Ping), so that while Redis is down it answers
// store.ErrUnavailable at once instead of after waiting subscribeTimeout for a confirmation that cannot come.
func (s *Store) Watch(ctx context.Context, topic string) (<-chan struct{}, error) {
	if err := s.Ping(ctx); err != nil {
		return nil, fmt.Errorf("redis store: watch: %w", err)
	}
	b, err := s.topicBucket(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("redis store: watch: %w", err)
	}
	p, err := s.pubsub.shard(b)
	if err != nil {
		return nil, err
	}
	return p.watch(ctx, s.keys.channel(b, topic))
}

// topicBucket is the bucket of the record topic names: its record's, or (unknown record) its id's.
func (s *Store) topicBucket(ctx context.Context, topic string) (int, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	var where string
	var err error
	switch kind, id, _ := strings.Cut(topic, "/"); kind {
	case "presentation":
		where, err = s.pointer(ctx, "watch", "p/"+id, s.keys.presentationID(id))
	case "ipa":
		where, err = s.pointer(ctx, "watch", "i/"+id, s.keys.sessionID(id))
	case "journey": // keyed by its id
		return bucketOf(id), nil
	default:
		return bucketOf(topic), nil
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return bucketOf(topic), nil
	case err != nil:
		return 0, err
	}
	return bucketOf(where), nil
}

// pubsubs holds one pub/sub connection per shard: on Cluster one per bucket (sharded pub/sub lives on the
// bucket's master), elsewhere one for all.
type pubsubs struct {
	client  goredis.UniversalClient
	keys    keys
	name    string
	sharded bool
	// publish is the command the update script notifies with.
	publish string
	beat    func(ctx context.Context, channel string) error

	mu     sync.Mutex
	shards map[int]*pubsub
	closed bool
}

func newPubsubs(s *Store, client goredis.UniversalClient, name string) *pubsubs {
	_, sharded := client.(*goredis.ClusterClient)
	ps := &pubsubs{client: client, keys: s.keys, name: name, sharded: sharded, publish: "PUBLISH", shards: map[int]*pubsub{}}
	if sharded {
		ps.publish = "SPUBLISH"
	}
	ps.beat = func(ctx context.Context, channel string) error { return s.rdb.Do(ctx, ps.publish, channel, "1").Err() }
	return ps
}

// shard returns the connection of bucket b's shard, opening it on first use.
func (ps *pubsubs) shard(b int) (*pubsub, error) {
	if !ps.sharded {
		b = 0
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, errClosed
	}
	p := ps.shards[b]
	if p == nil {
		p = newPubsub(ps, ps.keys.heartbeat(b, rand.Text()[:10]))
		ps.shards[b] = p
	}
	return p, nil
}

func (ps *pubsubs) close() error {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return nil
	}
	ps.closed = true
	shards := ps.shards
	ps.shards = nil
	ps.mu.Unlock()
	var err error
	for _, p := range shards {
		err = errors.Join(err, p.close())
	}
	return errors.Join(err, ps.client.Close())
}

// pubsub multiplexes the local watchers of one shard over one go-redis PubSub connection: a channel is
// subscribed while it has at least one watcher. A single goroutine sends SUBSCRIBE and UNSUBSCRIBE (so they
// reach the server in the order the local state changed), another dispatches what the server sends, and a
// third publishes the heartbeat and replaces the connection when the heartbeat stops coming back.
type pubsub struct {
	set       *pubsubs
	heartbeat string // channel

	mu       sync.Mutex
	ps       *goredis.PubSub
	beating  bool // the heartbeat channel is subscribed on ps
	lastSeen time.Time
	topics   map[string]*topic // by channel
	dirty    map[string]struct{}
	closed   bool

	kick      chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// topic is one subscribed (or about to be) channel and its local watchers.
type topic struct {
	watchers map[*watcher]struct{}
	// subscribed is true from the moment a SUBSCRIBE is sent until the topic is dropped with UNSUBSCRIBE.
	subscribed bool
	// retry asks for the SUBSCRIBE again: the last one failed, or the connection was replaced.
	retry bool
	// ready is closed at the first confirmation; later ones follow a reconnection.
	ready     chan struct{}
	confirmed bool
}

type watcher struct {
	ch   chan struct{}
	stop func() bool // unregisters the context.AfterFunc that ends the watcher
}

func newPubsub(set *pubsubs, heartbeat string) *pubsub {
	p := &pubsub{
		set:       set,
		heartbeat: heartbeat,
		lastSeen:  time.Now(),
		topics:    map[string]*topic{},
		dirty:     map[string]struct{}{},
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	p.wg.Add(2)
	p.connect()
	go p.subscribeLoop()
	go p.heartbeatLoop()
	return p
}

// connect opens a new PubSub (closing the one before, if any), starts its dispatcher and queues every topic
// for a SUBSCRIBE on it; the confirmations then tell the watchers to re-read.
func (p *pubsub) connect() {
	ps := p.set.client.Subscribe(context.Background())
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = ps.Close()
		return
	}
	old := p.ps
	p.ps, p.beating, p.lastSeen = ps, true, time.Now() // open subscribes the heartbeat
	for channel, t := range p.topics {
		if t.subscribed {
			t.retry = true
		}
		p.dirty[channel] = struct{}{}
	}
	p.kickLocked()
	p.wg.Add(1)
	go p.open(ps)
	p.mu.Unlock()
	if old != nil {
		_ = old.Close() // ends its dispatcher
	}
}

// open subscribes the heartbeat on ps, then dispatches what ps receives. The order matters on Cluster:
// go-redis opens a PubSub's connection on the master of the first channel the PubSub knows, and a read
// started before it knows any opens the connection on a random node, where SSUBSCRIBE of this shard's
// channels is answered MOVED (which go-redis drops): no confirmation would ever come. A failed SUBSCRIBE
// here still leaves the channel known to go-redis, which subscribes it on the connection it opens next.
func (p *pubsub) open(ps *goredis.PubSub) {
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	subscribe, _ := p.commands(ps)
	_ = subscribe(ctx, p.heartbeat)
	cancel()
	p.dispatch(ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024)))
}

// commands are ps's SUBSCRIBE and UNSUBSCRIBE: the sharded ones on Cluster.
func (p *pubsub) commands(ps *goredis.PubSub) (subscribe, unsubscribe func(context.Context, ...string) error) {
	if p.set.sharded {
		return ps.SSubscribe, ps.SUnsubscribe
	}
	return ps.Subscribe, ps.Unsubscribe
}

func (p *pubsub) watch(ctx context.Context, channel string) (<-chan struct{}, error) {
	w := &watcher{ch: make(chan struct{}, 1)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errClosed
	}
	t := p.topics[channel]
	if t == nil {
		t = &topic{watchers: map[*watcher]struct{}{}, ready: make(chan struct{})}
		p.topics[channel] = t
	}
	t.watchers[w] = struct{}{}
	if !t.subscribed {
		p.markLocked(channel)
	}
	p.mu.Unlock()

	timer := time.NewTimer(subscribeTimeout)
	defer timer.Stop()
	select {
	case <-t.ready:
	case <-ctx.Done():
		p.leave(channel, w)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("redis store: watch: subscription not confirmed: %w: %w", store.ErrUnavailable, ctx.Err())
		}
		return nil, fmt.Errorf("redis store: watch: %w", ctx.Err())
	case <-timer.C:
		p.leave(channel, w)
		return nil, fmt.Errorf("redis store: watch: subscription not confirmed within %s: %w", subscribeTimeout, store.ErrUnavailable)
	case <-p.stop:
		return nil, errClosed
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	w.stop = context.AfterFunc(ctx, func() { p.leave(channel, w) })
	return w.ch, nil
}

// leave removes w and closes its channel; the last watcher of a subscribed channel has it unsubscribed.
func (p *pubsub) leave(channel string, w *watcher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.topics[channel]
	if t == nil {
		return
	}
	if _, ok := t.watchers[w]; !ok {
		return
	}
	delete(t.watchers, w)
	close(w.ch)
	if len(t.watchers) > 0 {
		return
	}
	if t.subscribed {
		p.markLocked(channel)
	} else {
		delete(p.topics, channel) // never subscribed: nothing to undo
	}
}

// markLocked queues channel for the subscribe loop.
func (p *pubsub) markLocked(channel string) {
	p.dirty[channel] = struct{}{}
	p.kickLocked()
}

func (p *pubsub) kickLocked() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *pubsub) subscribeLoop() {
	defer p.wg.Done()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-p.kick:
		case <-retry.C:
		}
		if !p.reconcile() {
			retry.Reset(resubscribeEvery)
		}
	}
}

// reconcile subscribes the queued channels that have watchers (and the heartbeat) and unsubscribes those
// that have none left. It reports false when a SUBSCRIBE failed (those channels stay queued).
func (p *pubsub) reconcile() bool {
	var subs, unsubs []string
	p.mu.Lock()
	ps := p.ps
	if _, ok := p.dirty[p.heartbeat]; ok && !p.beating {
		p.beating = true
		subs = append(subs, p.heartbeat)
	}
	delete(p.dirty, p.heartbeat)
	for channel := range p.dirty {
		t := p.topics[channel]
		switch {
		case t == nil:
		case len(t.watchers) > 0 && (!t.subscribed || t.retry):
			t.subscribed, t.retry = true, false
			subs = append(subs, channel)
		case len(t.watchers) == 0 && t.subscribed:
			delete(p.topics, channel) // a new watcher starts a new topic, subscribed after this UNSUBSCRIBE
			unsubs = append(unsubs, channel)
		case len(t.watchers) == 0:
			delete(p.topics, channel)
		}
	}
	clear(p.dirty)
	p.mu.Unlock()

	subscribe, unsubscribe := p.commands(ps)
	for batch := range slices.Chunk(unsubs, subscribeBatch) {
		// An error needs no retry: go-redis forgets the channels anyway, and a failed write means the
		// connection is replaced by one that is not subscribed to them.
		_ = p.command(unsubscribe, batch)
	}
	ok := true
	for batch := range slices.Chunk(subs, subscribeBatch) {
		if p.command(subscribe, batch) == nil {
			continue
		}
		ok = false
		p.mu.Lock()
		for _, channel := range batch {
			if channel == p.heartbeat {
				p.beating = false
			} else if t := p.topics[channel]; t != nil {
				t.retry = true
			}
			p.dirty[channel] = struct{}{}
		}
		p.mu.Unlock()
	}
	return ok
}

func (p *pubsub) command(do func(context.Context, ...string) error, channels []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	return do(ctx, channels...)
}

// heartbeatLoop publishes to the heartbeat channel every heartbeatEvery while there are watchers, and
// replaces the connection when nothing came back for heartbeatSilence.
func (p *pubsub) heartbeatLoop() {
	defer p.wg.Done()
	tick := time.NewTicker(heartbeatEvery)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		idle, silent := len(p.topics) == 0, time.Since(p.lastSeen) > heartbeatSilence
		if idle {
			p.lastSeen = time.Now()
		}
		p.mu.Unlock()
		switch {
		case idle:
		case silent:
			p.connect()
		default:
			ctx, cancel := context.WithTimeout(context.Background(), heartbeatEvery)
			_ = p.set.beat(ctx, p.heartbeat) // a failure shows as silence
			cancel()
		}
	}
}

// dispatch turns what the server sends into watcher signals until its PubSub is closed.
func (p *pubsub) dispatch(msgs <-chan any) {
	defer p.wg.Done()
	for m := range msgs {
		switch m := m.(type) {
		case *goredis.Message:
			p.signal(m.Channel, false)
		case *goredis.Subscription:
			if m.Kind == "subscribe" || m.Kind == "ssubscribe" {
				p.signal(m.Channel, true)
			}
		}
	}
}

// signal wakes the watchers of channel. The first subscribe confirmation of a topic only marks it ready (its
// watchers are still in Watch); a later one means the subscription was re-established after losing the
// connection, and the watchers re-read what they may have missed. Anything heard proves the connection alive.
func (p *pubsub) signal(channel string, confirmation bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastSeen = time.Now()
	t := p.topics[channel]
	if t == nil {
		return
	}
	if confirmation && !t.confirmed {
		t.confirmed = true
		close(t.ready)
		return
	}
	for w := range t.watchers {
		select {
		case w.ch <- struct{}{}:
		default: // a signal is pending already: the watcher will re-read
		}
	}
}

// close ends every watcher and stops the goroutines and the connection.
func (p *pubsub) close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		for _, t := range p.topics {
			for w := range t.watchers {
				if w.stop != nil {
					w.stop()
				}
				close(w.ch)
			}
		}
		clear(p.topics)
		ps := p.ps
		p.mu.Unlock()
		close(p.stop)
		p.closeErr = ps.Close()
		p.wg.Wait()
	})
	return p.closeErr
}
