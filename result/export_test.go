package result

import "context"

// DeliverOne exposes deliverOne to the tests of package result_test.
func (w *Webhook) DeliverOne(ctx context.Context) bool { return w.deliverOne(ctx) }
