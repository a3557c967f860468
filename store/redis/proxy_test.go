package redis_test

import (
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// proxy forwards TCP connections to the Redis server under test; stopping it is, for the clients behind
// it, a server going away, and starting it again a server coming back on the same address.
type proxy struct {
	tb     testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(tb testing.TB) *proxy {
	u, err := url.Parse(redisURL())
	require.NoError(tb, err)
	p := &proxy{tb: tb, target: u.Host, conns: map[net.Conn]struct{}{}}
	p.start()
	tb.Cleanup(p.stop)
	return p
}

// url is REDIS_URL with the proxy's address.
func (p *proxy) url() string {
	u, err := url.Parse(redisURL())
	require.NoError(p.tb, err)
	u.Host = p.addr
	return u.String()
}

func (p *proxy) start() {
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	require.NoError(p.tb, err)
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
}

func (p *proxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	if !p.track(c, s) {
		return
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
	}
	wg.Go(func() { pipe(s, c) })
	wg.Go(func() { pipe(c, s) })
	wg.Wait()
}

// track registers a connection pair, or closes it when the proxy has stopped.
func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// stop refuses new connections and cuts the open ones.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			p.tb.Error(err)
		}
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}
