package storetest

import (
	"context"
	"sync"

	"github.com/entra-verifier/entra-verifier/store"
)

// Outboxes wraps a Store and records how many deliveries each successful update stored with its record,
// for tests of what a service's transitions queue.
type Outboxes struct {
	store.Store
	mu    sync.Mutex
	sizes []int
}

// Sizes returns the deliveries of each successful update so far, in order.
func (o *Outboxes) Sizes() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int(nil), o.sizes...)
}

// UpdatePresentation implements store.Store.
func (o *Outboxes) UpdatePresentation(ctx context.Context, id string, fn store.PresentationUpdater) (*store.Presentation, error) {
	return counted(o, fn, func(fn func(*store.Presentation) ([]*store.Delivery, error)) (*store.Presentation, error) {
		return o.Store.UpdatePresentation(ctx, id, fn)
	})
}

// UpdateIPASession implements store.Store.
func (o *Outboxes) UpdateIPASession(ctx context.Context, id string, fn store.IPAUpdater) (*store.IPASession, error) {
	return counted(o, fn, func(fn func(*store.IPASession) ([]*store.Delivery, error)) (*store.IPASession, error) {
		return o.Store.UpdateIPASession(ctx, id, fn)
	})
}

// counted runs update with fn wrapped to remember its deliveries, recorded when the update succeeds.
func counted[R any](o *Outboxes, fn func(R) ([]*store.Delivery, error), update func(func(R) ([]*store.Delivery, error)) (R, error)) (R, error) {
	var n int
	rec, err := update(func(r R) ([]*store.Delivery, error) {
		ds, err := fn(r)
		n = len(ds)
		return ds, err
	})
	if err == nil {
		o.mu.Lock()
		o.sizes = append(o.sizes, n)
		o.mu.Unlock()
	}
	return rec, err
}
