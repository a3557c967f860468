package memory

import (
	"context"
	"time"
)

// maxWindows bounds the rate-limit counters one process keeps; past it, new keys share one overflow
// window with the same limit, so a flood of client addresses can neither grow memory nor go uncounted.
const maxWindows = 100_000

// overflowKey counts the keys that find the table full.
const overflowKey = "\x00overflow"

// window is one fixed rate-limit window.
type window struct {
	ends  time.Time
	count int
}

// Allow implements store.Store.
func (s *Store) Allow(_ context.Context, key string, limit int, length time.Duration) (bool, time.Duration, error) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.windows[key]
	if !ok && len(s.windows) >= maxWindows {
		key = overflowKey
		w, ok = s.windows[key]
	}
	if !ok || !now.Before(w.ends) {
		w = &window{ends: now.Add(length)}
		s.windows[key] = w
	}
	w.count++
	if w.count > limit {
		return false, w.ends.Sub(now), nil
	}
	return true, 0, nil
}

// sweepWindowsLocked drops the windows that have ended.
func (s *Store) sweepWindowsLocked(now time.Time) {
	for k, w := range s.windows {
		if !now.Before(w.ends) {
			delete(s.windows, k)
		}
	}
}
