package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Group commit: the scripts that concurrent calls send to one master share a pipeline and, in the modes
// that need it, one WAIT after them, which acknowledges every write the connection made before it. Under
// load a callback then costs Redis (and this process) a fraction of a round trip; alone, it goes out at
// once, as before. Flushers run on goroutines of their own, so a caller waits for its own answer or its own
// deadline, never for another caller's pipeline. go-redis's AutoPipeline is not used: it is experimental,
// and it sends WAIT on a connection of its own, where it would acknowledge none of the writes.
const (
	// maxBatch bounds the scripts of one pipeline.
	maxBatch = 64
	// maxFlushes bounds the pipelines in flight to one master. One: the writes that arrive while a pipeline
	// is out go together in the next, so the batches grow with the load (measured against 2 and 4 with the
	// load tool: the same latency, fewer round trips, less CPU here and in Redis).
	maxFlushes = 1
)

// write is one durable call waiting for its pipeline.
type write struct {
	ctx  context.Context
	sc   *goredis.Script
	keys []string
	args []any
	cmd  *goredis.Cmd
	err  error
	done chan struct{}
}

func (w *write) finish(err error) {
	w.err = err
	close(w.done)
}

// committer queues the writes bound for one master.
type committer struct {
	s        *Store
	node     goredis.Cmdable
	mu       sync.Mutex
	queue    []*write
	flushing int
}

// committerFor returns the committer of the master at addr ("" outside Cluster), made on first use.
func (s *Store) committerFor(addr string) *committer {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	c := s.committers[addr]
	if c == nil {
		if s.committers == nil {
			s.committers = map[string]*committer{}
		}
		c = &committer{s: s}
		s.committers[addr] = c
	}
	return c
}

// durable runs script on the master owning keys[0] and, in the modes that need it, WAIT 1 on the same
// connection, in one round trip shared with the writes other calls make meanwhile: the script's answer
// counts only once a replica holds the write too.
func (s *Store) durable(ctx context.Context, sc *goredis.Script, keys []string, args ...any) (*goredis.Cmd, error) {
	node, addr, err := s.master(ctx, keys[0])
	if err != nil {
		return nil, err
	}
	w := &write{ctx: ctx, sc: sc, keys: keys, args: args, done: make(chan struct{})}
	s.committerFor(addr).enqueue(w, node)
	select {
	case <-w.done:
	case <-ctx.Done():
		if !answered(w) { // both ready: the answer wins
			return nil, ctx.Err()
		}
	}
	return w.cmd, w.err
}

// enqueue queues w for node and, when fewer than maxFlushes pipelines are in flight, starts a flusher.
func (c *committer) enqueue(w *write, node goredis.Cmdable) {
	c.mu.Lock()
	c.node = node // the newest: a Cluster client replaces a node's client when its slot map changes
	c.queue = append(c.queue, w)
	start := c.flushing < maxFlushes
	if start {
		c.flushing++
	}
	c.mu.Unlock()
	if start {
		go c.flush()
	}
}

// flush sends the queue's writes, maxBatch at a time, until the queue is empty.
func (c *committer) flush() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.flushing--
			c.mu.Unlock()
			return
		}
		n := min(len(c.queue), maxBatch)
		batch := c.queue[:n:n]
		c.queue = slices.Clone(c.queue[n:])
		node := c.node
		c.mu.Unlock()
		c.commitSafely(node, batch)
	}
}

// commitSafely is commit, a panic (in go-redis or a hook) answering the batch's writes with an error
// instead of ending the process.
func (c *committer) commitSafely(node goredis.Cmdable, batch []*write) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("redis store: pipeline panicked: %v", r)
			for _, w := range batch {
				if !answered(w) {
					w.finish(err)
				}
			}
		}
	}()
	c.s.commit(node, batch)
}

func answered(w *write) bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// commit sends batch to node in one pipeline, loading a script the server lacks (after a restart or a
// failover) and sending its writes once more. Writes whose call has already ended are not sent. go-redis
// sends a pipeline again, whole, after a timeout or a retryable error (its MaxRetries): a write applied twice
// answers store.ErrConflict, and the updates re-read and decide again, as they do for a single write.
func (s *Store) commit(node goredis.Cmdable, batch []*write) {
	live := pending(batch)
	if len(live) == 0 {
		return
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	missing := s.send(ctx, node, live, true)
	if len(missing) == 0 {
		return
	}
	loaded := map[*goredis.Script]error{}
	for _, w := range missing {
		if _, ok := loaded[w.sc]; !ok {
			loaded[w.sc] = w.sc.Load(ctx, node).Err()
		}
	}
	retry := missing[:0]
	for _, w := range missing {
		if err := loaded[w.sc]; err != nil {
			w.finish(s.failed(err))
			continue
		}
		retry = append(retry, w)
	}
	if retry = pending(retry); len(retry) > 0 {
		s.send(ctx, node, retry, false)
	}
}

// pending answers the writes of batch whose call has ended with its error and returns the others.
func pending(batch []*write) []*write {
	live := batch[:0]
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.finish(err)
			continue
		}
		live = append(live, w)
	}
	return live
}

// batchContext is the context a pipeline runs under: its one caller's, or, for several, none of their
// cancellations (the others still wait for it) and the latest of their deadlines (every store call has one).
func batchContext(batch []*write) (context.Context, context.CancelFunc) {
	if len(batch) == 1 {
		return batch[0].ctx, func() {}
	}
	var last time.Time
	for _, w := range batch {
		if dl, ok := w.ctx.Deadline(); ok && dl.After(last) {
			last = dl
		}
	}
	ctx := context.WithoutCancel(batch[0].ctx)
	if last.IsZero() {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, last)
}

// send runs batch's scripts and the WAIT in one pipeline and answers each write, except those refused with
// NOSCRIPT when they may be sent again (returned).
func (s *Store) send(ctx context.Context, node goredis.Cmdable, batch []*write, again bool) (noscript []*write) {
	pipe := node.Pipeline()
	for _, w := range batch {
		w.cmd = w.sc.EvalSha(ctx, pipe, w.keys, w.args...)
	}
	var ack *goredis.Cmd
	if s.mode.acknowledged() {
		ack = pipe.Do(ctx, "WAIT", 1, s.ackWait(ctx).Milliseconds())
	}
	_, _ = pipe.Exec(ctx)
	var ackErr error
	if ack != nil {
		switch n, err := ack.Int(); {
		case err != nil:
			ackErr = err
		case n < 1:
			ackErr = errNoAck
		}
	}
	var failed error // the first error that may mean the master moved
	for _, w := range batch {
		err := w.cmd.Err()
		if errors.Is(err, goredis.Nil) {
			err = nil
		}
		switch {
		case again && goredis.HasErrorPrefix(err, "NOSCRIPT"):
			noscript = append(noscript, w)
			continue
		case err == nil:
			err = ackErr
		}
		if err != nil && !errors.Is(err, errNoAck) && failed == nil {
			failed = err
		}
		w.finish(err)
	}
	if failed != nil {
		s.failed(failed)
	}
	return noscript
}
