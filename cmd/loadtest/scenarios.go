package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"time"
)

// phase measures one series on the verifier and, when bare is set, the same series on the bare server.
type phase struct {
	ctx  context.Context
	o    options
	up   *upstream
	rep  *report
	hc   *http.Client
	bare *child
	// redis, when set, is the Redis the verifier runs on: its CPU is counted beside the verifier's.
	redis *masters
}

// measure runs fn against c and returns its sample with c's allocations, CPU time and Redis round trips per
// operation (and Redis's CPU time per operation when the phase runs on Redis and c is not the floor).
func (p *phase) measure(c *child, fn func() sample) (sample, alloc, error) {
	onRedis := p.redis != nil && c != p.bare
	var redisBefore, redisAfter float64
	before, err := c.memStats(p.ctx)
	if err == nil && onRedis {
		redisBefore, err = p.redis.cpu(p.ctx)
	}
	if err != nil {
		return sample{}, alloc{}, err
	}
	s := fn()
	after, err := c.memStats(p.ctx)
	if err == nil && onRedis {
		redisAfter, err = p.redis.cpu(p.ctx)
	}
	if err != nil {
		return sample{}, alloc{}, err
	}
	if s.errors > 0 {
		return s, alloc{}, fmt.Errorf("%s: %d of %d failed, first: %w", c.name, s.errors, s.n, s.firstErr)
	}
	n := float64(s.n)
	return s, alloc{objects: (after.mallocs - before.mallocs) / n, bytes: (after.allocBytes - before.allocBytes) / n,
		trips: (after.trips - before.trips) / n, cpu: (after.cpu - before.cpu) / n, redisCPU: (redisAfter - redisBefore) / n}, nil
}

// rounds interleaves the floor and ours in the callback scenarios, so that a slow or fast spell of a shared
// machine falls on both: the requests are split into rounds, sent to the floor then to us in even rounds and
// the other way round in odd ones (a steady drift favours neither), and the rounds' samples are summed.
const rounds = 4

// callbacks sends n callbacks (request_retrieved for n/2 fresh requests, then presentation_verified for
// each) to v, and the same bodies to the bare server, in rounds; rate 0 means as fast as conc workers go.
func (p *phase) callbacks(name string, v *child, n, conc int, rate float64) error {
	reqs, _, err := createMany(p.ctx, p.hc, p.up, v.base, n/2, p.o.concurrency)
	if err != nil {
		return err
	}
	r := row{name: name, conc: conc, rate: rate}
	k := min(rounds, len(reqs))
	for i := range k {
		if err := p.callbackRound(&r, v, reqs[i*len(reqs)/k:(i+1)*len(reqs)/k], i%2 == 1); err != nil {
			return err
		}
	}
	if err := status(p.ctx, p.hc, v.base, reqs[len(reqs)-1], "verified"); err != nil {
		return err
	}
	p.rep.add(r)
	return nil
}

// callbackRound sends request_retrieved, then presentation_verified, for each of reqs to the floor and to v
// (v first when oursFirst), adding both samples to r.
func (p *phase) callbackRound(r *row, v *child, reqs []*created, oursFirst bool) error {
	bodies := make([]callbackBodies, len(reqs))
	for i, c := range reqs {
		bodies[i] = bodiesFor(c)
	}
	pick := func(i int) (*created, []byte) {
		if i < len(reqs) {
			return reqs[i], bodies[i].retrieved
		}
		return reqs[i-len(reqs)], bodies[i-len(reqs)].verified
	}
	run := func(c *child) (sample, alloc, error) {
		return p.measure(c, func() sample {
			return drive(p.ctx, 2*len(reqs), r.conc, r.rate, func(ctx context.Context, i int) error {
				req, body := pick(i)
				if c == p.bare {
					return send(ctx, p.hc, p.bare.base+"/callback", "", body, http.StatusNoContent)
				}
				return send(ctx, p.hc, req.callbackURL, req.apiKey, body, http.StatusOK)
			})
		})
	}
	order := []*child{p.bare, v}
	if oursFirst {
		order = []*child{v, p.bare}
	}
	for _, c := range order {
		got, a, err := run(c)
		if err != nil {
			return err
		}
		if c == p.bare {
			r.bareAlloc, r.bare = r.bareAlloc.plus(a, r.bare.n, got.n), r.bare.plus(got)
		} else {
			r.ourAlloc, r.ours = r.ourAlloc.plus(a, r.ours.n, got.n), r.ours.plus(got)
		}
	}
	return nil
}

// cycle runs n create → request_retrieved → presentation_verified → status cycles against v; the floor is
// four bare POSTs of the same bodies.
func (p *phase) cycle(name string, v *child, n int) error {
	tmpl, err := create(p.ctx, p.hc, p.up, v.base)
	if err != nil {
		return err
	}
	tb := bodiesFor(tmpl)
	bare, bareAlloc, err := p.measure(p.bare, func() sample {
		return drive(p.ctx, n, p.o.concurrency, 0, func(ctx context.Context, _ int) error {
			for _, b := range [][]byte{[]byte("{}"), tb.retrieved, tb.verified, []byte("{}")} {
				if err := send(ctx, p.hc, p.bare.base+"/callback", "", b, http.StatusNoContent); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	ours, ourAlloc, err := p.measure(v, func() sample {
		return drive(p.ctx, n, p.o.concurrency, 0, func(ctx context.Context, _ int) error {
			c, err := create(ctx, p.hc, p.up, v.base)
			if err != nil {
				return err
			}
			b := bodiesFor(c)
			if err := send(ctx, p.hc, c.callbackURL, c.apiKey, b.retrieved, http.StatusOK); err != nil {
				return err
			}
			if err := send(ctx, p.hc, c.callbackURL, c.apiKey, b.verified, http.StatusOK); err != nil {
				return err
			}
			return status(ctx, p.hc, v.base, c, "verified")
		})
	})
	if err != nil {
		return err
	}
	p.rep.add(row{name: name, ours: ours, bare: bare, ourAlloc: ourAlloc, bareAlloc: bareAlloc, conc: p.o.concurrency})
	return nil
}

// createLatency times n creates one at a time, each followed by the same create sent straight to the
// Request Service fake with a ready token: the difference of the medians is our own time.
func (p *phase) createLatency(name string, v *child, n int) error {
	first, err := create(p.ctx, p.hc, p.up, v.base)
	if err != nil {
		return err
	}
	rec, _ := p.up.sb.Requests.Request(first.id)
	token, err := p.up.token(p.ctx)
	if err != nil {
		return err
	}
	var oursLat, directLat []time.Duration
	for range n {
		t0 := time.Now()
		if _, err := create(p.ctx, p.hc, nil, v.base); err != nil {
			return err
		}
		t1 := time.Now()
		if err := p.up.createDirect(p.ctx, token, rec.Body); err != nil {
			return err
		}
		oursLat, directLat = append(oursLat, t1.Sub(t0)), append(directLat, time.Since(t1))
	}
	p.rep.addCreate(name, newSample(oursLat), newSample(directLat))
	return nil
}

// pending creates n requests left pending and reports the verifier's memory growth per request.
func (p *phase) pending(name string, v *child, n int) error {
	before, err := v.memStats(p.ctx)
	if err != nil {
		return err
	}
	if _, _, err := createMany(p.ctx, p.hc, nil, v.base, n, p.o.concurrency); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let the last garbage collection settle
	after, err := v.memStats(p.ctx)
	if err != nil {
		return err
	}
	p.rep.addMemory(name, "pending request", n, before, after)
	return nil
}

func runMemory(ctx context.Context, o options, up *upstream, rep *report) error {
	v, err := startVerifier(ctx, "memory", o.verifier, up.verifierEnv(map[string]string{"VERIFIER_STORE": "memory"}))
	if err != nil {
		return err
	}
	defer v.stop()
	bare, err := startBare(ctx)
	if err != nil {
		return err
	}
	defer bare.stop()
	p := &phase{ctx: ctx, o: o, up: up, rep: rep, hc: newClient(max(o.concurrency, 64)), bare: bare}
	tokensBefore := up.sb.Identity.TokenCalls() - up.ownTokens
	createsBefore := up.sb.Requests.Calls()
	steps := []func() error{
		func() error { return p.callbacks("callbacks, full speed (memory)", v, o.callbacks, o.concurrency, 0) },
		func() error {
			return p.callbacks(fmt.Sprintf("callbacks at %.0f/s (memory)", o.rate), v, o.paced, max(64, o.concurrency), o.rate)
		},
		func() error { return p.cycle("create→callbacks→status (memory)", v, o.cycles) },
		func() error { return p.createLatency("create, one at a time (memory)", v, o.latency) },
		func() error { return p.pending("memory store", v, o.pending) },
		func() error { return p.sse("SSE delivery, 1 replica (memory)", v, v, o.watchers) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	rep.tokenCalls, rep.creates = up.sb.Identity.TokenCalls()-up.ownTokens-tokensBefore, up.sb.Requests.Calls()-createsBefore
	_, rep.peakMemory, err = v.procStatus()
	return err
}

// runRedis starts two replicas on one Redis (a key prefix of their own, one callback secret) and measures
// callbacks and the cycle on one, and event delivery from a callback on one to watchers on the other.
func runRedis(ctx context.Context, o options, up *upstream, rep *report) error {
	prefix := "loadtest-" + rand.Text()[:8] + ":"
	m, err := openMasters(o.redisURL, o.redisMode)
	if err != nil {
		return err
	}
	defer m.close()
	defer m.clean(prefix)
	env := up.verifierEnv(map[string]string{"VERIFIER_STORE": "redis", "REDIS_URL": o.redisURL, "VERIFIER_REDIS_MODE": o.redisMode,
		"REDIS_KEY_PREFIX": prefix, "ENTRA_CALLBACK_SECRET": rand.Text() + rand.Text()})
	a, err := startVerifier(ctx, "redis-a", o.verifier, env)
	if err != nil {
		return err
	}
	defer a.stop()
	b, err := startVerifier(ctx, "redis-b", o.verifier, env)
	if err != nil {
		return err
	}
	defer b.stop()
	bare, err := startBare(ctx)
	if err != nil {
		return err
	}
	defer bare.stop()
	p := &phase{ctx: ctx, o: o, up: up, rep: rep, hc: newClient(max(o.concurrency, 64)), bare: bare, redis: m}
	steps := []func() error{
		func() error { return p.callbacks("callbacks, full speed (redis)", a, o.callbacks, o.concurrency, 0) },
		func() error {
			return p.callbacks(fmt.Sprintf("callbacks at %.0f/s (redis)", o.rate), a, o.paced, max(64, o.concurrency), o.rate)
		},
		func() error { return p.cycle("create→callbacks→status (redis)", a, o.cycles) },
		func() error { return p.sse("SSE delivery, across 2 replicas (redis)", a, b, o.watchers) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
