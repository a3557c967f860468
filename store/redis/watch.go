package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
)

// errClosed is returned by Watch on a closed Store.
var errClosed = errors.New("redis store: closed")

// Watch implements store.Store. It returns once Redis has confirmed the subscription, so no update made
// after it returns is missed. Besides one signal per update, a watcher receives one when the pub/sub
// connection has been re-established (an update may have been missed while it was down). The channel is
// closed when ctx ends or the Store is closed.
//
// Watch first round-trips the server, so that while Redis is down it answers store.ErrUnavailable at once
// instead of after waiting subscribeTimeout for a confirmation that cannot come.
func (s *Store) Watch(ctx context.Context, topic string) (<-chan struct{}, error) {
	if err := s.Ping(ctx); err != nil {
		return nil, fmt.Errorf("redis store: watch: %w", err)
	}
	return s.pubsub.watch(ctx, s.keys.channel(topic))
}

// pubsub multiplexes every local watcher over one go-redis PubSub connection: a channel is subscribed while
// it has at least one watcher. A single goroutine sends SUBSCRIBE and UNSUBSCRIBE (so they reach the server
// in the order the local state changed), and another dispatches what the server sends.
type pubsub struct {
	client *goredis.Client
	ps     *goredis.PubSub

	mu     sync.Mutex
	topics map[string]*topic // by channel
	dirty  map[string]struct{}
	closed bool

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
	// retry asks for the SUBSCRIBE again: the last one failed.
	retry bool
	// ready is closed at the first confirmation; later ones follow a reconnection.
	ready     chan struct{}
	confirmed bool
}

type watcher struct {
	ch   chan struct{}
	stop func() bool // unregisters the context.AfterFunc that ends the watcher
}

func newPubsub(client *goredis.Client) *pubsub {
	p := &pubsub{
		client: client,
		ps:     client.Subscribe(context.Background()),
		topics: map[string]*topic{},
		dirty:  map[string]struct{}{},
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	msgs := p.ps.ChannelWithSubscriptions(goredis.WithChannelSize(1024))
	p.wg.Add(2)
	go p.dispatch(msgs)
	go p.subscribeLoop()
	return p
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

// reconcile subscribes the queued channels that have watchers and unsubscribes those that have none left.
// It reports false when a SUBSCRIBE failed (those channels stay queued).
func (p *pubsub) reconcile() bool {
	var subs, unsubs []string
	p.mu.Lock()
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

	for batch := range slices.Chunk(unsubs, subscribeBatch) {
		// An error needs no retry: go-redis forgets the channels anyway, and a failed write means the
		// connection is replaced by one that is not subscribed to them.
		_ = p.command(p.ps.Unsubscribe, batch)
	}
	ok := true
	for batch := range slices.Chunk(subs, subscribeBatch) {
		if p.command(p.ps.Subscribe, batch) == nil {
			continue
		}
		ok = false
		p.mu.Lock()
		for _, channel := range batch {
			if t := p.topics[channel]; t != nil {
				t.retry = true
				p.dirty[channel] = struct{}{}
			}
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

// dispatch turns what the server sends into watcher signals until the PubSub is closed.
func (p *pubsub) dispatch(msgs <-chan any) {
	defer p.wg.Done()
	for m := range msgs {
		switch m := m.(type) {
		case *goredis.Message:
			p.signal(m.Channel, false)
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				p.signal(m.Channel, true)
			}
		}
	}
}

// signal wakes the watchers of channel. The first subscribe confirmation of a topic only marks it ready (its
// watchers are still in Watch); a later one means go-redis resubscribed after losing the connection, and
// the watchers re-read what they may have missed.
func (p *pubsub) signal(channel string, confirmation bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
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
		p.mu.Unlock()
		close(p.stop)
		p.closeErr = p.ps.Close()
		p.wg.Wait()
		p.closeErr = errors.Join(p.closeErr, p.client.Close())
	})
	return p.closeErr
}
