// Package memory is the in-process store: the default for a single replica. Records are dropped
// store.Retention after creation, claims at their end (Presentation.ClaimsEnd), and the number of records is
// capped so a flood of creates is refused (store.ErrFull) instead of exhausting memory or evicting live
// records.
package memory

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// DefaultMaxRecords caps the records (presentation requests and IPA sessions together) one process keeps.
const DefaultMaxRecords = 200_000

// Options tune a Store; the zero value is usable.
type Options struct {
	// MaxRecords caps live records; 0 means DefaultMaxRecords.
	MaxRecords int
	// SweepEvery is the period of the expiry sweep; 0 means 30 seconds.
	SweepEvery time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Store keeps records in maps guarded by one mutex. Create it with New and Close it when done.
type Store struct {
	opts Options

	mu            sync.Mutex
	presentations table[*store.Presentation]
	sessions      table[*store.IPASession]
	watchers      map[string]map[chan struct{}]struct{}
	windows       map[string]*window
	deliveries    map[string]*store.Delivery
	journeys      table[*store.Journey]
	latest        map[ownerKey]newest

	stop chan struct{}
	done chan struct{}
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store whose sweeper runs until Close.
func New(opts Options) *Store {
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = DefaultMaxRecords
	}
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{
		opts:          opts,
		presentations: newTable[*store.Presentation](),
		sessions:      newTable[*store.IPASession](),
		watchers:      map[string]map[chan struct{}]struct{}{},
		windows:       map[string]*window{},
		deliveries:    map[string]*store.Delivery{},
		journeys:      newTable[*store.Journey](),
		latest:        map[ownerKey]newest{},
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
	}
	go s.sweepLoop()
	return s
}

// table is one kind of record, indexed by id and by a secondary key (state or token hash).
type table[R any] struct {
	byID  map[string]R
	index map[string]string
}

func newTable[R any]() table[R] {
	return table[R]{byID: map[string]R{}, index: map[string]string{}}
}

// record is what the tables of sessions and journeys hold.
type record[R any] interface {
	comparable
	Clone() R
	DropAt() time.Time
}

// live is r as a reader gets it: a copy, or store.ErrNotFound for none or one past its drop time.
func live[R record[R]](s *Store, r R) (R, error) {
	var none R
	if r == none || s.dropped(r.DropAt()) {
		return none, store.ErrNotFound
	}
	return r.Clone(), nil
}

// sweep drops t's records past their drop time at now, with their index entries (key).
func sweep[R record[R]](t *table[R], now time.Time, key func(R) string) {
	for id, r := range t.byID {
		if !now.Before(r.DropAt()) {
			delete(t.byID, id)
			delete(t.index, key(r))
		}
	}
}

func (s *Store) size() int {
	return len(s.presentations.byID) + len(s.sessions.byID) + len(s.deliveries) + len(s.journeys.byID)
}

// CreatePresentation implements store.Store.
func (s *Store) CreatePresentation(_ context.Context, p *store.Presentation, outbox ...*store.Delivery) error {
	return create(s, &s.presentations, p.ID, p.State, p, outbox)
}

// Presentation implements store.Store.
func (s *Store) Presentation(_ context.Context, id string) (*store.Presentation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readPresentation(s.presentations.byID[id])
}

// PresentationByState implements store.Store.
func (s *Store) PresentationByState(_ context.Context, state string) (*store.Presentation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readPresentation(s.presentations.byID[s.presentations.index[state]])
}

func (s *Store) readPresentation(p *store.Presentation) (*store.Presentation, error) {
	if p == nil || s.dropped(p.DropAt()) {
		return nil, store.ErrNotFound
	}
	c := p.Clone()
	if !s.opts.Now().Before(p.ClaimsEnd()) {
		c.Claims = nil
	}
	return c, nil
}

// UpdatePresentation implements store.Store: fn runs under the store's lock, once.
func (s *Store) UpdatePresentation(_ context.Context, id string, fn store.PresentationUpdater) (*store.Presentation, error) {
	return update(s, &s.presentations, id, s.readPresentation, fn, func(next, cur *store.Presentation) {
		next.ID, next.State, next.Version = cur.ID, cur.State, cur.Version+1
		if next.Claims != nil && !s.opts.Now().Before(next.ClaimsEnd()) { // as Redis: never stored past their end
			next.Claims = nil
		}
	}, store.PresentationTopic(id))
}

// CreateIPASession implements store.Store.
func (s *Store) CreateIPASession(_ context.Context, sess *store.IPASession, outbox ...*store.Delivery) error {
	return create(s, &s.sessions, sess.ID, sess.TokenHash, sess, outbox)
}

// IPASession implements store.Store.
func (s *Store) IPASession(_ context.Context, id string) (*store.IPASession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readSession(s.sessions.byID[id])
}

// IPASessionByToken implements store.Store.
func (s *Store) IPASessionByToken(_ context.Context, tokenHash string) (*store.IPASession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readSession(s.sessions.byID[s.sessions.index[tokenHash]])
}

func (s *Store) readSession(v *store.IPASession) (*store.IPASession, error) { return live(s, v) }

// UpdateIPASession implements store.Store: fn runs under the store's lock, once.
func (s *Store) UpdateIPASession(_ context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error) {
	return update(s, &s.sessions, id, s.readSession, fn, func(next, cur *store.IPASession) {
		next.ID, next.TokenHash, next.Version = cur.ID, cur.TokenHash, cur.Version+1
	}, store.IPATopic(id))
}

// dropped reports whether a record whose drop time is dropAt is gone.
func (s *Store) dropped(dropAt time.Time) bool {
	return !s.opts.Now().Before(dropAt)
}

// create stores v under id and key, with outbox, unless either is taken.
func create[R interface{ Clone() R }](s *Store, t *table[R], id, key string, v R, outbox []*store.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := t.byID[id]; ok {
		return store.ErrConflict
	}
	if _, ok := t.index[key]; ok {
		return store.ErrConflict
	}
	if s.size() >= s.opts.MaxRecords {
		return store.ErrFull
	}
	c := v.Clone()
	t.byID[id] = c
	t.index[key] = id
	s.enqueueLocked(outbox)
	return nil
}

// update applies fn to a copy of record id as read reads it, under the lock; keep restores the keys fn may
// not change, advances the version and drops what must not be stored; the record is returned as stored. fn's deliveries are stored with the record, beyond the record cap (a
// transition is never refused for its events, and there are at most a few per record).
func update[R interface{ Clone() R }](s *Store, t *table[R], id string, read func(R) (R, error), fn func(R) ([]*store.Delivery, error),
	keep func(next, cur R), topic string) (R, error) {
	var none R
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := t.byID[id]
	next, err := read(cur)
	if err != nil {
		return none, err
	}
	outbox, err := fn(next)
	switch {
	case errors.Is(err, store.ErrUnchanged):
		unchanged, _ := read(cur) // fn may have changed its copy before giving up
		return unchanged, err
	case err != nil:
		return none, err
	}
	keep(next, cur)
	t.byID[id] = next.Clone()
	s.enqueueLocked(outbox)
	s.notifyLocked(topic)
	return next, nil
}

// Watch implements store.Store. The watcher's channel is registered directly (no goroutine per watcher) and
// unregistered, then closed, when ctx ends.
func (s *Store) Watch(ctx context.Context, topic string) (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	if s.watchers[topic] == nil {
		s.watchers[topic] = map[chan struct{}]struct{}{}
	}
	s.watchers[topic][ch] = struct{}{}
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.watchers[topic], ch)
		if len(s.watchers[topic]) == 0 {
			delete(s.watchers, topic)
		}
		close(ch) // under the lock: notifyLocked never sends on a closed channel
	})
	return ch, nil
}

func (s *Store) notifyLocked(topic string) {
	for ch := range s.watchers[topic] {
		select {
		case ch <- struct{}{}:
		default: // a signal is already pending: the watcher will re-read the record
		}
	}
}

// Ping implements store.Store; memory is always reachable.
func (s *Store) Ping(context.Context) error { return nil }

// Close stops the sweeper.
func (s *Store) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return nil
}

func (s *Store) sweepLoop() {
	defer close(s.done)
	t := time.NewTicker(s.opts.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep drops records past their retention and claims past their end (ClaimsEnd). It runs periodically;
// it is exported for tests and benchmarks.
func (s *Store) Sweep() {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.presentations.byID {
		switch {
		case !now.Before(p.DropAt()):
			delete(s.presentations.byID, id)
			delete(s.presentations.index, p.State)
		case p.Claims != nil && !now.Before(p.ClaimsEnd()):
			p.Claims = nil
		}
	}
	sweep(&s.sessions, now, func(v *store.IPASession) string { return v.TokenHash })
	sweep(&s.journeys, now, func(j *store.Journey) string { return j.LaunchHash })
	s.sweepWindowsLocked(now)
	s.sweepDeliveriesLocked(now)
	s.sweepOwnersLocked(now)
}
