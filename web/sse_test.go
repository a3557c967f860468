package web

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// recordingWriter is an eventWriter that keeps what it is given.
type recordingWriter struct {
	writes [][]byte
	closed int
}

func (w *recordingWriter) write(b []byte) error { w.writes = append(w.writes, b); return nil }
func (w *recordingWriter) close()               { w.closed++ }

// TestEventStreamPanicEndsOnlyTheStream: on a taken-over connection no middleware recovers a panic, so the
// stream does, and still ends exactly once.
func TestEventStreamPanicEndsOnlyTheStream(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	changes := make(chan struct{}, 1)
	out := &recordingWriter{}
	ended := 0
	e := &eventStream{
		ctx: ctx, cancel: cancel, out: out, changes: changes, shutdown: make(chan struct{}),
		read:  func(context.Context) (snapshot, error) { panic("store bug") },
		ended: func() { ended++ },
	}
	assert.True(t, e.open(snapshot{view: map[string]string{"status": "created"}, version: "created", expiresAt: time.Now().Add(time.Hour)}, nil))
	changes <- struct{}{}
	assert.NotPanics(t, e.run)
	assert.Equal(t, 1, ended, "the watchers gauge is decremented once")
	assert.Equal(t, 1, out.closed, "the connection is closed once")
	assert.Error(t, ctx.Err(), "the stream's context (and its store watcher) is released")
	assert.Len(t, out.writes, 1, "only the first event was sent")
}
