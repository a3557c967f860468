package web

import "sync"

// streamSlots bounds the event streams each browser holds open at once (VERIFIER_STREAMS_PER_BROWSER), both
// kinds together. A browser is its binding cookie's hash. The count is this replica's: a browser may hold
// the bound on every replica. An entry lives only while its browser has a stream open, so the map never
// holds more entries than there are open streams.
type streamSlots struct {
	max int

	mu   sync.Mutex
	open map[string]int
}

func newStreamSlots(max int) *streamSlots { return &streamSlots{max: max, open: map[string]int{}} }

// acquire takes one of owner's slots. It reports false when owner already holds max; otherwise release
// gives the slot back, once however often it is called.
func (s *streamSlots) acquire(owner string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[owner] >= s.max {
		return nil, false
	}
	s.open[owner]++
	var once sync.Once
	return func() { once.Do(func() { s.release(owner) }) }, true
}

func (s *streamSlots) release(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[owner]--; s.open[owner] <= 0 {
		delete(s.open, owner)
	}
}

// held is how many slots owner holds.
func (s *streamSlots) held(owner string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open[owner]
}
