package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/web"
)

// records is what a stream's fake domain answers: the test swaps the record, then signals a change.
type records[T any] struct {
	mu  sync.Mutex
	cur T
	err error
}

func (r *records[T]) set(v T, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur, r.err = v, err
}

func (r *records[T]) get() (T, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur, r.err
}

// watchFake is a store whose only topic's changes the test sends.
func watchFake(topics *calls, changes chan struct{}) *storeFake {
	return &storeFake{watch: func(_ context.Context, topic string) (<-chan struct{}, error) {
		topics.add(topic)
		return changes, nil
	}}
}

// openStream opens the event stream at url, failing unless it is one.
func openStream(t *testing.T, client *http.Client, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	return resp
}

// requireEnded fails unless the stream ends with no further event within 10 s.
func requireEnded(t *testing.T, events <-chan map[string]any) {
	t.Helper()
	select {
	case e, ok := <-events:
		require.False(t, ok, "the stream goes on: %v", e)
	case <-time.After(10 * time.Second):
		t.Fatal("the stream is still open after 10 s")
	}
}

// signal announces a change to a stream, failing when the stream does not take it within 10 s.
func signal(t *testing.T, changes chan<- struct{}) {
	t.Helper()
	select {
	case changes <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream no longer waits for changes")
	}
}

// TestEventStreamFinalAtConnect: a record already final answers its one event and ends, through net/http's
// own writer when the connection cannot be taken over (here a recorder).
func TestEventStreamFinalAtConnect(t *testing.T) {
	completed := sRecord
	completed.Identity = nil
	timedOut := sRecord
	timedOut.Status, timedOut.Identity = store.IPATimeout, nil
	tests := []struct {
		name      string
		path      string
		session   *store.IPASession
		retrieval bool
		topic     string
		status    string
	}{
		{"verified presentation", "/api/verifier/presentation-requests/" + pRecord.ID + "/events", nil, true, store.PresentationTopic(pRecord.ID), "verified"},
		{"completed session with identity", "/api/ipa/sessions/" + sRecord.ID + "/events", &sRecord, true, store.IPATopic(sRecord.ID), "completed"},
		{"completed session, no retrieval", "/api/ipa/sessions/" + sRecord.ID + "/events", &completed, false, store.IPATopic(sRecord.ID), "completed"},
		{"timed-out session", "/api/ipa/sessions/" + sRecord.ID + "/events", &timedOut, true, store.IPATopic(sRecord.ID), "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var topics calls
			h := unitServer(t, web.Options{
				Store:             watchFake(&topics, make(chan struct{})),
				IdentityRetrieval: tc.retrieval,
				Presentations: &presentationsFake{get: func(context.Context, string, string) (*store.Presentation, error) {
					p := pRecord
					return &p, nil
				}},
				Sessions: &sessionsFake{get: func(context.Context, string, string) (*store.IPASession, error) {
					s := *tc.session
					return &s, nil
				}},
			}).Handler()
			rec := do(h, http.MethodGet, tc.path, nil, nil)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "text/event-stream", rec.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Equal(t, "no", rec.Header().Get("X-Accel-Buffering"))
			assert.Equal(t, []string{tc.topic}, topics.list(), "subscribed to the record's topic")
			body := rec.Body.String()
			require.Equal(t, 1, strings.Count(body, "event: status\n"), body)
			data, ok := strings.CutPrefix(body, "event: status\ndata: ")
			require.True(t, ok, body)
			data, ok = strings.CutSuffix(data, "\n\n")
			require.True(t, ok, body)
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(data), &v))
			assert.Equal(t, tc.status, v["status"])
			assert.Equal(t, "0", metric(t, h, `verifier_sse_watchers{kind="presentation"}`))
			assert.Equal(t, "0", metric(t, h, `verifier_sse_watchers{kind="ipa"}`))
		})
	}
}

// TestEventStreamRefusals: the owner check comes before the subscription, and a store that cannot
// subscribe or read is answered as an error, not as a stream.
func TestEventStreamRefusals(t *testing.T) {
	tests := []struct {
		name     string
		reads    []error // what each Get answers, in turn
		watchErr error
		status   int
		code     string
		watched  bool
	}{
		{"another browser's", []error{store.ErrNotFound}, nil, http.StatusNotFound, "not_found", false},
		{"store down at subscribe", []error{nil}, store.ErrUnavailable, http.StatusServiceUnavailable, "store_unavailable", true},
		{"store down after subscribe", []error{nil, store.ErrUnavailable}, nil, http.StatusServiceUnavailable, "store_unavailable", true},
	}
	for _, tc := range tests {
		for _, kind := range []string{"presentation", "ipa"} {
			t.Run(tc.name+" "+kind, func(t *testing.T) {
				var topics calls
				n := 0
				next := func() error { n++; return tc.reads[min(n, len(tc.reads))-1] }
				h := unitServer(t, web.Options{
					Store: &storeFake{watch: func(_ context.Context, topic string) (<-chan struct{}, error) {
						topics.add(topic)
						return make(chan struct{}), tc.watchErr
					}},
					Presentations: &presentationsFake{get: func(context.Context, string, string) (*store.Presentation, error) {
						if err := next(); err != nil {
							return nil, err
						}
						p := pRecord
						p.Status = store.PresentationCreated
						return &p, nil
					}},
					Sessions: &sessionsFake{get: func(context.Context, string, string) (*store.IPASession, error) {
						if err := next(); err != nil {
							return nil, err
						}
						s := sRecord
						s.Status = store.IPAPending
						return &s, nil
					}},
				}).Handler()
				path := "/api/verifier/presentation-requests/" + pRecord.ID + "/events"
				if kind == "ipa" {
					path = "/api/ipa/sessions/" + sRecord.ID + "/events"
				}
				rec := do(h, http.MethodGet, path, nil, nil)
				assert.Equal(t, tc.status, rec.Code)
				assert.Equal(t, tc.code, errorOf(t, rec))
				assert.NotEqual(t, "text/event-stream", rec.Header().Get("Content-Type"))
				assert.Equal(t, tc.watched, len(topics.list()) == 1)
				assert.Equal(t, "0", metric(t, h, `verifier_sse_watchers{kind="`+kind+`"}`))
			})
		}
	}
}

// TestSessionEventsWaitForTheIdentity: with identity retrieval on, a completed session's stream stays open
// until its identity summary arrives, sends nothing for a change that leaves its version alone, and ends
// after the summary.
func TestSessionEventsWaitForTheIdentity(t *testing.T) {
	// Real time here: a stream's expiry timer runs on the wall clock.
	withIdentity := sRecord
	withIdentity.ExpiresAt = time.Now().Add(time.Hour)
	noIdentity := withIdentity
	noIdentity.Identity, noIdentity.IdentityID = nil, ""
	var current records[store.IPASession]
	current.set(noIdentity, nil)
	var topics calls
	changes := make(chan struct{})
	reads := make(chan struct{}, 16) // one per read, sent once the read has its answer
	srv := unitServer(t, web.Options{
		Store: watchFake(&topics, changes), IdentityRetrieval: true, Now: time.Now,
		Sessions: &sessionsFake{get: func(context.Context, string, string) (*store.IPASession, error) {
			s, err := current.get()
			reads <- struct{}{}
			return &s, err
		}},
	})
	front := httptest.NewServer(srv.Handler())
	t.Cleanup(front.Close)
	events := e2e.ReadEvents(openStream(t, front.Client(), front.URL+"/api/ipa/sessions/"+sRecord.ID+"/events"))

	first := e2e.NextEvent(t, events)
	assert.Equal(t, "completed", first["status"])
	assert.Nil(t, first["identity"])
	assert.Equal(t, "1", metric(t, srv.Handler(), `verifier_sse_watchers{kind="ipa"}`))
	<-reads // the owner check
	<-reads // the first event's

	signal(t, changes) // a change that leaves this stream's version alone
	<-reads
	current.set(withIdentity, nil)
	signal(t, changes)
	second := e2e.NextEvent(t, events)
	assert.Equal(t, "LOA3", second["identity"].(map[string]any)["levelOfAssurance"], "the next event is the identity's: the repeat sent none")
	requireEnded(t, events)
	assert.Eventually(t, func() bool { return metric(t, srv.Handler(), `verifier_sse_watchers{kind="ipa"}`) == "0" }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{store.IPATopic(sRecord.ID)}, topics.list())
}

// TestEventStreamEnds: a stream ends with no further event when its store subscription closes, and sends
// its record's expiry by itself, when no change would announce it.
func TestEventStreamEnds(t *testing.T) {
	t.Run("subscription closed", func(t *testing.T) {
		created := pRecord
		created.Status, created.ExpiresAt = store.PresentationCreated, time.Now().Add(time.Hour)
		changes := make(chan struct{})
		var topics calls
		srv := unitServer(t, web.Options{Now: time.Now, Store: watchFake(&topics, changes), Presentations: &presentationsFake{
			get: func(context.Context, string, string) (*store.Presentation, error) { p := created; return &p, nil },
		}})
		front := httptest.NewServer(srv.Handler())
		t.Cleanup(front.Close)
		events := e2e.ReadEvents(openStream(t, front.Client(), front.URL+"/api/verifier/presentation-requests/"+pRecord.ID+"/events"))
		assert.Equal(t, "created", e2e.NextEvent(t, events)["status"])
		signal(t, changes)
		close(changes)
		requireEnded(t, events)
	})

	t.Run("expiry", func(t *testing.T) {
		created := pRecord
		created.Status, created.Claims = store.PresentationCreated, nil
		created.ExpiresAt = time.Now().Add(300 * time.Millisecond)
		var topics calls
		srv := unitServer(t, web.Options{
			Now:   time.Now,
			Store: watchFake(&topics, make(chan struct{})), // no change is ever announced
			Presentations: &presentationsFake{
				get: func(context.Context, string, string) (*store.Presentation, error) { p := created; return &p, nil },
			},
		})
		front := httptest.NewServer(srv.Handler())
		t.Cleanup(front.Close)
		events := e2e.ReadEvents(openStream(t, front.Client(), front.URL+"/api/verifier/presentation-requests/"+pRecord.ID+"/events"))
		assert.Equal(t, "created", e2e.NextEvent(t, events)["status"])
		assert.Equal(t, "expired", e2e.NextEvent(t, events)["status"])
		requireEnded(t, events)
	})

	t.Run("HTTP/2 shutdown", func(t *testing.T) {
		created := pRecord
		created.Status, created.ExpiresAt = store.PresentationCreated, time.Now().Add(time.Hour)
		var topics calls
		srv := unitServer(t, web.Options{Now: time.Now, Store: watchFake(&topics, make(chan struct{})), Presentations: &presentationsFake{
			get: func(context.Context, string, string) (*store.Presentation, error) { p := created; return &p, nil },
		}})
		front := httptest.NewUnstartedServer(srv.Handler())
		front.EnableHTTP2 = true
		front.StartTLS()
		t.Cleanup(front.Close)
		resp := openStream(t, front.Client(), front.URL+"/api/verifier/presentation-requests/"+pRecord.ID+"/events")
		require.Equal(t, 2, resp.ProtoMajor)
		events := e2e.ReadEvents(resp)
		assert.Equal(t, "created", e2e.NextEvent(t, events)["status"])
		assert.Equal(t, "1", metric(t, srv.Handler(), `verifier_sse_watchers{kind="presentation"}`))
		srv.Close()
		requireEnded(t, events)
		assert.Eventually(t, func() bool { return metric(t, srv.Handler(), `verifier_sse_watchers{kind="presentation"}`) == "0" }, 5*time.Second, 10*time.Millisecond)
	})
}

// TestEventStreamOutlivesAStoreOutage: a re-read the store refuses for a while (a Redis coming back answers
// LOADING while its pub/sub already confirms) keeps the stream open; it reads again until the store answers,
// and delivers the change then. A record that is gone ends the stream.
func TestEventStreamOutlivesAStoreOutage(t *testing.T) {
	created := pRecord
	created.Status, created.ExpiresAt, created.Claims = store.PresentationCreated, time.Now().Add(time.Hour), nil
	var rec records[*store.Presentation]
	rec.set(&created, nil)
	changes := make(chan struct{})
	var topics calls
	srv := unitServer(t, web.Options{Now: time.Now, Store: watchFake(&topics, changes), Presentations: &presentationsFake{
		get: func(context.Context, string, string) (*store.Presentation, error) {
			p, err := rec.get()
			if err != nil {
				return nil, err
			}
			c := *p
			return &c, nil
		},
	}})
	front := httptest.NewServer(srv.Handler())
	t.Cleanup(front.Close)
	events := e2e.ReadEvents(openStream(t, front.Client(), front.URL+"/api/verifier/presentation-requests/"+pRecord.ID+"/events"))
	assert.Equal(t, "created", e2e.NextEvent(t, events)["status"])

	rec.set(nil, store.ErrUnavailable)
	signal(t, changes) // the re-read fails: the stream waits and reads again
	time.Sleep(600 * time.Millisecond)
	retrieved := created
	retrieved.Status = store.PresentationRetrieved
	rec.set(&retrieved, nil) // the store is back, and nothing announces it
	assert.Equal(t, "retrieved", e2e.NextEvent(t, events)["status"], "delivered once the store answers")

	rec.set(nil, store.ErrNotFound)
	signal(t, changes)
	requireEnded(t, events)
}
