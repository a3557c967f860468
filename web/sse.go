package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/store"
)

// snapshot is one read of a watched record.
type snapshot struct {
	view      any       // the JSON the status route answers
	version   string    // changes whenever view does
	final     bool      // no later event will follow
	expiresAt time.Time // when the record turns expired by itself
}

const (
	keepAlive = 15 * time.Second
	// eventWriteTimeout bounds one write to a taken-over stream, so a write never blocks its goroutine for
	// long (a client that stops reading is mostly bounded by the record's expiry: the socket buffers absorb
	// a few events and keep-alives).
	eventWriteTimeout = 10 * time.Second
	// rereadEvery is the pause before a stream reads again after the store was unavailable (a Redis coming
	// back answers LOADING while it reads its append-only file, and its pub/sub confirms first); a stream
	// whose store stays unavailable for rereadFor ends, and the browser reconnects.
	rereadEvery = 250 * time.Millisecond
	rereadFor   = 30 * time.Second
)

// keepAliveComment is what a stream sends every keepAlive: a comment, which EventSource ignores.
var keepAliveComment = []byte(": keep-alive\n\n")

// stream answers Server-Sent Events: `event: status` with the status JSON once on connect and once per
// change, until a final status, the client leaving, or the server shutting down. read must not use c: on
// HTTP/1 the stream outlives the handler. A browser holds at most VERIFIER_STREAMS_PER_BROWSER streams at
// once (429 too_many_streams beyond); its slot is given back when the stream ends, on whichever goroutine.
//
// An HTTP/1 stream takes its connection over from net/http once the first event is written and is then
// served by two small goroutines of its own (one writes events, one notices the client leaving), so the
// server's per-connection buffers and the handler's deep stack are freed while the stream waits (see
// BENCHMARKS.md). Other protocols keep the handler's goroutine.
func (s *Server) stream(c *gin.Context, kind, topic string, read func(context.Context) (snapshot, error)) {
	// The stream's own context: it may outlive the request's, and carries only the request id for logs.
	// Until the connection is taken over, the request ending (the client leaving) ends it too.
	ctx, cancel := context.WithCancel(logging.WithRequestID(context.Background(), logging.RequestID(c.Request.Context())))
	clientLeft := context.AfterFunc(c.Request.Context(), cancel)
	defer clientLeft()
	if _, err := read(ctx); err != nil { // the owner check comes before any subscription
		cancel()
		writeError(c, err)
		return
	}
	release, ok := s.streams.acquire(s.ownerFromCookie(c)) // given back when the stream really ends
	if !ok {
		cancel()
		s.metrics.rateLimited.WithLabelValues("streams").Inc()
		writeError(c, errTooManyStreams)
		return
	}
	changes, err := s.watch.Watch(ctx, topic) // subscribe before the read that is sent, so no change falls between
	var snap snapshot
	if err == nil {
		snap, err = read(ctx)
	}
	if err != nil {
		cancel()
		release()
		writeError(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // let reverse proxies pass events through at once
	watchers := s.metrics.watchers.WithLabelValues(kind)
	watchers.Inc()
	ended := func() { watchers.Dec(); release() }
	e := &eventStream{ctx: ctx, cancel: cancel, changes: changes, read: read, shutdown: s.shutdown, ended: ended}
	if conn := hijack(c); conn != nil {
		clientLeft() // net/http ends the request's context once the handler returns: the stream watches conn instead
		e.out = connWriter{conn}
		if e.open(snap, responseHead(h)) {
			go e.run()
			go endWhenClosed(conn, cancel)
		}
		return
	}
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
	c.Writer.WriteHeader(http.StatusOK)
	e.out = flushWriter{c.Writer}
	if e.open(snap, nil) {
		e.run()
	}
}

// eventStream is one open stream: what it sends to, what wakes it, and the last version it sent.
type eventStream struct {
	ctx      context.Context
	cancel   context.CancelFunc
	out      eventWriter
	changes  <-chan struct{}
	read     func(context.Context) (snapshot, error)
	shutdown <-chan struct{}
	ended    func() // called once, when the stream ends
	last     string
	expiry   time.Time // of the first snapshot: records do not change their expiry
}

// eventWriter is where a stream's bytes go: a taken-over connection or net/http's response.
type eventWriter interface {
	write(b []byte) error
	close()
}

// open writes head (nil when net/http writes it) and the first event; it reports whether the stream goes
// on, and ends it otherwise.
func (e *eventStream) open(snap snapshot, head []byte) bool {
	e.expiry = snap.expiresAt
	if e.send(snap, head) && !snap.final {
		return true
	}
	e.end()
	return false
}

func (e *eventStream) end() {
	e.cancel()
	e.out.close()
	e.ended()
}

// run waits for changes, expiry and keep-alives, and sends each new version, until the stream ends. A panic
// ends only this stream: on a taken-over connection no middleware recovers it.
func (e *eventStream) run() {
	defer e.end()
	defer func() {
		if r := recover(); r != nil {
			slog.ErrorContext(e.ctx, "panic in event stream", "panic", r)
		}
	}()
	expiry := time.NewTimer(time.Until(e.expiry))
	defer expiry.Stop()
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	var reread <-chan time.Time // armed while the store is unavailable
	var failingSince time.Time
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.shutdown:
			return
		case <-ping.C:
			if e.out.write(keepAliveComment) != nil {
				return
			}
			continue
		case _, ok := <-e.changes:
			if !ok {
				return
			}
		case <-expiry.C:
		case <-reread:
		}
		snap, err := e.read(e.ctx)
		if errors.Is(err, store.ErrUnavailable) {
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if time.Since(failingSince) < rereadFor {
				reread = time.After(rereadEvery)
				continue
			}
		}
		reread, failingSince = nil, time.Time{}
		if err != nil || !e.send(snap, nil) || snap.final {
			return
		}
	}
}

// send writes snap as an event after head, unless its version was the last one sent.
func (e *eventStream) send(snap snapshot, head []byte) bool {
	if snap.version == e.last {
		return true
	}
	e.last = snap.version
	data, err := json.Marshal(snap.view)
	if err != nil {
		return false
	}
	b := make([]byte, 0, len(head)+len(data)+24)
	b = append(append(append(append(b, head...), "event: status\ndata: "...), data...), "\n\n"...)
	return e.out.write(b) == nil
}

// hijack takes an HTTP/1 connection over from net/http; nil when the protocol or writer does not allow it.
func hijack(c *gin.Context) net.Conn {
	u, ok := c.Writer.(interface{ Unwrap() http.ResponseWriter })
	if !ok || c.Request.ProtoMajor != 1 {
		return nil
	}
	if _, ok := u.Unwrap().(http.Hijacker); !ok { // gin's Hijack would panic
		return nil
	}
	// Through gin, which then counts the answer as written (a 200 for the access log). The buffered reader
	// holds nothing an event stream needs: a GET has no body.
	conn, _, err := c.Writer.Hijack()
	if err != nil {
		return nil
	}
	return conn
}

// responseHead is the HTTP/1.1 status line and headers of a stream that net/http no longer writes; the body
// runs until the connection closes.
func responseHead(h http.Header) []byte {
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\n")
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = h.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

// endWhenClosed calls cancel once conn's reading side ends (the client left, or the stream closed it) or the
// client sends anything: an event stream's client has nothing more to say, and draining what it sends would
// let it keep a core busy.
func endWhenClosed(conn net.Conn, cancel context.CancelFunc) {
	var b [1]byte
	_, _ = conn.Read(b[:])
	cancel()
}

// connWriter writes to a taken-over connection, each write within eventWriteTimeout.
type connWriter struct{ conn net.Conn }

func (w connWriter) write(b []byte) error {
	_ = w.conn.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	_, err := w.conn.Write(b)
	return err
}

func (w connWriter) close() { _ = w.conn.Close() }

// flushWriter writes through net/http and flushes each event.
type flushWriter struct{ w gin.ResponseWriter }

func (w flushWriter) write(b []byte) error {
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	w.w.Flush()
	return nil
}

func (flushWriter) close() {}
