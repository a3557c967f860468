package result

import "context"

// DeliverOne exposes one step of Run to the tests: claim one due delivery and attempt it, no ticker.
func (w *Webhook) DeliverOne(ctx context.Context) bool { return w.deliverOne(ctx) }
