package memory

import (
	"context"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
)

// ownerKey names one entry of the owner index.
type ownerKey struct {
	owner string
	kind  store.Kind
}

// newest is one entry of the owner index.
type newest struct {
	id    string
	until time.Time
}

// SetNewest implements store.Owners. An entry is set only after its record was created, so the index
// holds at most one entry per record kind and browser, bounded by the record cap.
func (s *Store) SetNewest(_ context.Context, ownerHash string, kind store.Kind, id string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest[ownerKey{ownerHash, kind}] = newest{id: id, until: until}
	return nil
}

// Newest implements store.Owners.
func (s *Store) Newest(_ context.Context, ownerHash string, kind store.Kind) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.latest[ownerKey{ownerHash, kind}]
	if !ok || !s.opts.Now().Before(n.until) {
		return "", store.ErrNotFound
	}
	return n.id, nil
}

// sweepOwnersLocked drops the owner index's lapsed entries.
func (s *Store) sweepOwnersLocked(now time.Time) {
	for k, n := range s.latest {
		if !now.Before(n.until) {
			delete(s.latest, k)
		}
	}
}
