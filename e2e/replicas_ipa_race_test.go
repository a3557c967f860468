package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/store"
)

// TestReplicaIPACallbackRace spreads IDEMIA's notifications for the same sessions over two replicas: the
// same notification several times at once, retries after an answer was lost on the way back, and
// conflicting outcomes. Each session keeps the first outcome that won, each transition is published once,
// and a completed session's identity is retrieved (its proof fetched) once, by one replica.
func TestReplicaIPACallbackRace(t *testing.T) {
	a := New(t, SharedRedis(t))
	b := a.Replica()
	var n atomic.Int64
	lb := Route(t, a, func() int { return int(n.Add(1) % 2) }, a, b)
	var lossy, lost sync.Map // callback paths whose first answer is to be lost; those that lost it already
	lb.lose = func(req *http.Request) bool {
		if _, ok := lossy.Load(req.URL.Path); !ok {
			return false
		}
		_, seen := lost.LoadOrStore(req.URL.Path, true)
		return !seen
	}
	pubs := countPublishes(t, a)

	const done, failed, timeout = sandbox.IPACompleted, sandbox.IPAError, sandbox.IPAHeartbeatTimeout
	tests := []struct {
		name   string
		copies int
		// lose drops the first answer to the session's callbacks: IDEMIA retries a notification we applied.
		lose   bool
		rounds [][]sandbox.IPAOutcome
		// want lists the acceptable final statuses, and for each the number of transitions it takes.
		want map[string]int64
	}{
		{"completed three times at once, first answer lost", 2, true, [][]sandbox.IPAOutcome{{done, done, done}},
			map[string]int64{"completed": 2}}, // the outcome, then the identity summary
		{"error, then retried", 2, true, [][]sandbox.IPAOutcome{{failed}, {failed, failed}}, map[string]int64{"error": 1}},
		{"completed and timed out at once", 6, false, [][]sandbox.IPAOutcome{{done, done, timeout, timeout}},
			map[string]int64{"completed": 2, "timeout": 1}},
		{"another outcome after the end", 2, false, [][]sandbox.IPAOutcome{{timeout}, {done, failed, timeout}},
			map[string]int64{"timeout": 1}},
	}
	stop := make(chan struct{})
	type run struct {
		name, id       string
		stream, polled func() []string
		want           map[string]int64
	}
	var runs []run
	var wg sync.WaitGroup
	deliveries, retries := 0, 0
	for _, tc := range tests {
		for i := range tc.copies {
			c := a.CreateSession()
			if tc.lose {
				lossy.Store(strings.TrimPrefix(a.CallbackURL(c.SessionID), a.URL), true)
				retries++
			}
			// One body per outcome: a repeat is the same notification, as IDEMIA's retries are.
			bodies := map[sandbox.IPAOutcome][]byte{}
			for _, o := range []sandbox.IPAOutcome{done, failed, timeout} {
				var err error
				bodies[o], err = a.IPA.Callback(c.SessionID, o)
				require.NoError(t, err)
			}
			base := "/api/ipa/sessions/" + c.SessionID
			stream, polled := follow(t, a, b, base+"/events", base, stop)
			runs = append(runs, run{fmt.Sprintf("%s #%d", tc.name, i), c.SessionID, stream, polled, tc.want})
			for _, round := range tc.rounds {
				deliveries += len(round)
			}
			wg.Go(func() {
				storm(tc.rounds, func(o sandbox.IPAOutcome) {
					code, err := a.IPA.Deliver(context.WithoutCancel(t.Context()), c.SessionID, bodies[o])
					assert.NoError(t, err)
					assert.Equal(t, http.StatusNoContent, code, "%s: %q", tc.name, o)
				})
			})
		}
	}
	wg.Wait()

	completed := 0
	for _, run := range runs {
		stream := run.stream() // ends once the status is final and, if completed, the identity is known
		got := a.SessionOf(run.id)
		status := got["status"].(string)
		transitions, ok := run.want[status]
		require.True(t, ok, "%s: final status %q", run.name, status)
		if status == "completed" {
			completed++
			identity, _ := got["identity"].(map[string]any)
			assert.Nil(t, identity["proof"], run.name)
			assert.Equal(t, sandbox.IPALevelOfAssurance, identity["levelOfAssurance"], run.name)
		} else {
			assert.Nil(t, got["identity"], run.name)
		}
		assert.Equal(t, got, b.SessionOf(run.id), "%s: both replicas read the same", run.name)

		published := pubs.of(store.IPATopic(run.id))
		assert.Equal(t, transitions, int64(len(published)), "%s: number of transitions", run.name)
		assert.Equal(t, versions(int64(len(published))), published, "%s: one publish per transition, in order", run.name)

		checkHistory(t, run.name+" (stream on A)", stream)
		if assert.NotEmpty(t, stream, run.name) {
			assert.Equal(t, status, stream[len(stream)-1], "%s: the stream ended on the status that won first", run.name)
		}
	}
	close(stop)
	for _, run := range runs {
		checkHistory(t, run.name+" (status polled on B)", run.polled())
	}
	assert.Equal(t, completed, a.GIPS.IdentityRequests(), "one identity read per completed session, whatever the duplicates")
	assert.Zero(t, a.GIPS.ProofRequests(), "the proof archive is never fetched on our own")
	assert.Equal(t, deliveries+retries, a.IPA.CallbackAttempts(), "IDEMIA retried once per lost answer")
}
