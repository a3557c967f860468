package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// snapshot is one read of a watched record.
type snapshot struct {
	view      any       // the JSON the status route answers
	version   string    // changes whenever view does
	final     bool      // no later event will follow
	expiresAt time.Time // when the record turns expired by itself
}

const keepAlive = 15 * time.Second

// stream answers Server-Sent Events: `event: status` with the status JSON once on connect and once per
// change, until a final status, the client leaving, or the server shutting down.
func (s *Server) stream(c *gin.Context, kind, topic string, read func(context.Context) (snapshot, error)) {
	ctx, cancel := context.WithCancel(c.Request.Context())
	defer cancel()
	if _, err := read(ctx); err != nil { // the owner check comes before any subscription
		writeError(c, err)
		return
	}
	changes, err := s.watch.Watch(ctx, topic) // subscribe before the read that is sent, so no change falls between
	if err != nil {
		writeError(c, err)
		return
	}
	snap, err := read(ctx)
	if err != nil {
		writeError(c, err)
		return
	}
	s.metrics.watchers.WithLabelValues(kind).Inc()
	defer s.metrics.watchers.WithLabelValues(kind).Dec()

	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // let reverse proxies pass events through at once
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)

	last := ""
	send := func(snap snapshot) bool {
		if snap.version == last {
			return true
		}
		last = snap.version
		b, err := json.Marshal(snap.view)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", b); err != nil {
			return false
		}
		w.Flush()
		return true
	}
	if !send(snap) || snap.final {
		return
	}
	expiry := time.NewTimer(time.Until(snap.expiresAt))
	defer expiry.Stop()
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.shutdown:
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			w.Flush()
		case _, ok := <-changes:
			if !ok {
				return
			}
		case <-expiry.C:
		}
		if snap, err = read(ctx); err != nil || !send(snap) || snap.final {
			return
		}
	}
}
