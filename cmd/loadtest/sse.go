package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/entra-verifier/entra-verifier/web"
)

// stream is one open event stream, read on its own goroutine.
type stream struct {
	conn net.Conn
	r    *bufio.Reader
}

// openStream sends GET path to the server at base over a fresh connection and reads up to the first event
// carrying wantFirst.
func openStream(ctx context.Context, base, path, cookie, wantFirst string) (*stream, error) {
	addr := strings.TrimPrefix(base, "http://")
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with a reset: 10,000 sockets in TIME_WAIT would starve later runs of ports
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCookie: %s=%s\r\n\r\n", path, addr, web.CookieName, cookie)
	s := &stream{conn: conn, r: bufio.NewReaderSize(conn, 1024)}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := s.r.ReadString('\n')
	if err == nil && !strings.Contains(line, " 200 ") {
		err = errors.New("event stream answered " + strings.TrimSpace(line))
	}
	if err == nil {
		err = s.waitFor(wantFirst)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// waitFor reads lines until one contains needle (chunk-size lines are skipped like any other).
func (s *stream) waitFor(needle string) error {
	n := []byte(needle)
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
		if bytes.Contains(line, n) {
			return nil
		}
	}
}

// sse creates w requests on creator, opens one watcher per request on watched, then sends each request's
// request_retrieved callback at the paced rate, and measures, per watcher, the time from the callback
// being sent to the event arriving. The floor does the same with the bare server's stream and /fire.
// The watched server's resident memory is read before and after the watchers connect.
func (p *phase) sse(name string, creator, watched *child, w int) error {
	reqs, _, err := createMany(p.ctx, p.hc, p.up, creator.base, w, p.o.concurrency)
	if err != nil {
		return err
	}
	const created, retrieved = `"status":"created"`, `"status":"retrieved"`
	bare, bareMem, err := p.deliver(p.bare, reqs, func(i int) string { return "/sse/" + reqs[i].id },
		func(ctx context.Context, i int) error {
			return send(ctx, p.hc, p.bare.base+"/fire/"+reqs[i].id, "", bodiesFor(reqs[i]).retrieved, http.StatusNoContent)
		}, created, retrieved, "bare stream")
	if err != nil {
		return err
	}
	ours, mem, err := p.deliver(watched, reqs, func(i int) string { return "/api/verifier/presentation-requests/" + reqs[i].id + "/events" },
		func(ctx context.Context, i int) error {
			c := reqs[i]
			return send(ctx, p.hc, c.callbackURL, c.apiKey, bodiesFor(c).retrieved, http.StatusOK)
		}, created, retrieved, "SSE watcher")
	if err != nil {
		return err
	}
	p.rep.add(row{name: name, ours: ours, bare: bare, conc: w, rate: p.o.rate, delivery: true})
	p.rep.addMemory(name, "SSE watcher", w, mem[0], mem[1])
	p.rep.addMemory(name+" — floor: bare net/http stream", "SSE watcher", w, bareMem[0], bareMem[1])
	return nil
}

// deliver opens a stream per request on c (path(i), with the request's cookie), then fires each at the paced rate and
// returns the delivery latencies and c's memory before and after the streams opened.
func (p *phase) deliver(c *child, reqs []*created, path func(int) string, fire func(context.Context, int) error,
	first, change, what string) (sample, [2]memStats, error) {
	n := len(reqs)
	var mem [2]memStats
	var err error
	if mem[0], err = c.memStats(p.ctx); err != nil {
		return sample{}, mem, err
	}
	streams := make([]*stream, n)
	defer func() {
		for _, s := range streams {
			if s != nil {
				s.conn.Close()
			}
		}
	}()
	opened := drive(p.ctx, n, 64, 0, func(ctx context.Context, i int) (err error) {
		streams[i], err = openStream(ctx, c.base, path(i), reqs[i].cookie, first)
		return err
	})
	if opened.errors > 0 {
		return sample{}, mem, fmt.Errorf("%s: %d of %d %ss failed to open, first: %w", c.name, opened.errors, n, what, opened.firstErr)
	}
	time.Sleep(time.Second) // let the server finish setting the streams up
	if mem[1], err = c.memStats(p.ctx); err != nil {
		return sample{}, mem, err
	}
	sent, got := make([]time.Time, n), make([]time.Time, n)
	var wg sync.WaitGroup
	for i, s := range streams {
		_ = s.conn.SetReadDeadline(time.Now().Add(time.Duration(float64(n)/p.o.rate*float64(time.Second)) + 30*time.Second))
		wg.Go(func() {
			if s.waitFor(change) == nil {
				got[i] = time.Now()
			}
		})
	}
	fired := drive(p.ctx, n, 64, p.o.rate, func(ctx context.Context, i int) error {
		sent[i] = time.Now()
		return fire(ctx, i)
	})
	wg.Wait()
	if fired.errors > 0 {
		return sample{}, mem, fmt.Errorf("%s: %d of %d fires failed, first: %w", c.name, fired.errors, n, fired.firstErr)
	}
	lat, missed := make([]time.Duration, 0, n), 0
	for i := range n {
		if got[i].IsZero() {
			missed++
			continue
		}
		lat = append(lat, got[i].Sub(sent[i]))
	}
	s := newSample(lat)
	s.n, s.errors, s.elapsed = n, missed, fired.elapsed
	if missed > 0 {
		return s, mem, fmt.Errorf("%s: %d of %d %ss received no event", c.name, missed, n, what)
	}
	return s, mem, nil
}
