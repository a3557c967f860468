package redis

import (
	"sync"
)

// maxCached bounds each in-memory cache; past it the cache starts over (its entries are only shortcuts).
const maxCached = 1 << 14

// cache is a map of shortcuts, safe for concurrent use, that starts over when it holds maxCached entries.
// The Store keeps three:
//   - where an id's record lives (its state or token hash), which never changes, so the pointer key is read
//     once per id and process;
//   - the record this process last created, read or wrote, taken (once) by the next update of the same id
//     as its first copy, whatever its age: the update's compare-and-swap refuses a copy another replica made
//     stale, and the update then reads and decides again;
//   - the bucket of each delivery this process claimed, so finishing one needs its id only.
type cache[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

func (c *cache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *cache[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[string]V)
	}
	c.m[k] = v
}

// take removes and returns the entry under k.
func (c *cache[V]) take(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	delete(c.m, k)
	return v, ok
}
