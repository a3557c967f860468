package redis

import (
	"sync"
	"time"
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

// recentFor is how long a record just read may stand in for the first read of an update: a callback reads
// its record by state and then updates it, and the compare-and-swap catches a copy that went stale.
const recentFor = time.Second

// recentReads holds records just read, each taken (once) by the next update of the same id.
type recentReads struct {
	mu sync.Mutex
	m  map[string]recent
}

type recent struct {
	rec any
	at  time.Time
}

func (c *recentReads) put(id string, rec any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]recent)
	}
	c.m[id] = recent{rec, time.Now()}
}

func (c *recentReads) take(id string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[id]
	if !ok {
		return nil, false
	}
	delete(c.m, id)
	return r.rec, time.Since(r.at) < recentFor
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
