package redis

import (
	"sync"
)

// maxCached bounds each in-memory cache; past it the cache starts over (its entries are only shortcuts).
const maxCached = 1 << 14

// idCache remembers where an id's record lives (its state or token hash): it never changes, so the pointer
// key is read once per id and process.
type idCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *idCache) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v, ok
}

func (c *idCache) put(id, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]string)
	}
	c.m[id] = v
}

// recentReads holds the record this process last created, read or wrote, each taken (once) by the next update
// of the same id as its first copy, whatever its age: the update's compare-and-swap refuses a copy another
// replica made stale, and the update then reads and decides again.
type recentReads struct {
	mu sync.Mutex
	m  map[string]any
}

func (c *recentReads) put(id string, rec any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]any)
	}
	c.m[id] = rec
}

// take removes and returns the record kept for id; nil when there is none.
func (c *recentReads) take(id string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := c.m[id]
	delete(c.m, id)
	return rec
}

// leases remembers the bucket of each delivery this process claimed, so finishing one needs its id only.
type leases struct {
	mu sync.Mutex
	m  map[string]int
}

func (l *leases) put(id string, b int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil || len(l.m) >= maxCached {
		l.m = make(map[string]int)
	}
	l.m[id] = b
}

func (l *leases) take(id string) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[id]
	delete(l.m, id)
	return b, ok
}
