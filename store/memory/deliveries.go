package memory

import (
	"context"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// ClaimDelivery implements store.Store.
func (s *Store) ClaimDelivery(_ context.Context, now time.Time, lease time.Duration) (*store.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var due *store.Delivery
	for _, d := range s.deliveries {
		if !d.NextAttempt.After(now) && now.Before(d.CreatedAt.Add(store.Retention)) && (due == nil || d.NextAttempt.Before(due.NextAttempt)) {
			due = d
		}
	}
	if due == nil {
		return nil, store.ErrNotFound
	}
	due.Attempts++
	c := *due
	due.NextAttempt = now.Add(lease)
	return &c, nil
}

// RetryDelivery implements store.Store.
func (s *Store) RetryDelivery(_ context.Context, d *store.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.deliveries[d.ID]
	if !ok {
		return store.ErrNotFound
	}
	cur.Attempts, cur.NextAttempt = d.Attempts, d.NextAttempt
	return nil
}

// FinishDelivery implements store.Store.
func (s *Store) FinishDelivery(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.deliveries, id)
	return nil
}

func (s *Store) sweepDeliveriesLocked(now time.Time) {
	for id, d := range s.deliveries {
		if !now.Before(d.CreatedAt.Add(store.Retention)) {
			delete(s.deliveries, id)
		}
	}
}
