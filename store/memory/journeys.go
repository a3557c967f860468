package memory

import (
	"context"

	"github.com/entra-verifier/entra-verifier/store"
)

// CreateJourney implements store.Store.
func (s *Store) CreateJourney(_ context.Context, j *store.Journey, outbox ...*store.Delivery) error {
	return create(s, &s.journeys, j.ID, j.LaunchHash, j, outbox)
}

// Journey implements store.Store.
func (s *Store) Journey(_ context.Context, id string) (*store.Journey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readJourney(s.journeys.byID[id])
}

// JourneyByLaunch implements store.Store.
func (s *Store) JourneyByLaunch(_ context.Context, launchHash string) (*store.Journey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readJourney(s.journeys.byID[s.journeys.index[launchHash]])
}

func (s *Store) readJourney(j *store.Journey) (*store.Journey, error) { return live(s, j) }

// UpdateJourney implements store.Store: fn runs under the store's lock, once.
func (s *Store) UpdateJourney(_ context.Context, id string, fn store.JourneyUpdater) (*store.Journey, error) {
	return update(s, &s.journeys, id, s.readJourney, fn, func(next, cur *store.Journey) {
		next.ID, next.LaunchHash, next.Version = cur.ID, cur.LaunchHash, cur.Version+1
	}, store.JourneyTopic(id))
}

// enqueueLocked stores copies of outbox's deliveries (a timer of the same id replaces the earlier one).
func (s *Store) enqueueLocked(outbox []*store.Delivery) {
	for _, d := range outbox {
		c := *d
		s.deliveries[d.ID] = &c
	}
}
