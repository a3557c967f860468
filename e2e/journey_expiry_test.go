package e2e_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/e2e"
)

// TestAbandonedJourneyExpiresOnceAcrossReplicas: two replicas on Redis, short lifetimes; a journey whose
// link is never opened sends journey.expired once, an opened journey's abandoned presentation step sends
// presentation.expired once, and a browser-started request that expires unfinished does too.
func TestAbandonedJourneyExpiresOnceAcrossReplicas(t *testing.T) {
	recv, hook := e2e.NewReceiver(t, 0)
	h := e2e.New(t, journeyEnv(hook, e2e.SharedRedis(t), map[string]string{
		"VERIFIER_LAUNCH_LINK_TTL": "1s", "VERIFIER_RESULT_SIGNING_KEY": "", "VERIFIER_CLAIMS_RETENTION": "1s",
	}))
	h.RS.Lifetime = 2 * time.Second
	r := h.Replica()

	unopened := newJourney(t, h, map[string]any{"reference": "case-unopened", "steps": []string{"presentation"}})
	opened := newJourney(t, r, map[string]any{"reference": "case-abandoned", "steps": []string{"presentation"}})
	status, _ := open(t, r, h.Browser, opened.LaunchURL)
	require.Equal(t, http.StatusSeeOther, status)
	step := h.Create()    // on the other replica: the journey's step, abandoned
	var loose e2e.Created // browser-started, by another browser
	code, body, _ := r.Do(e2e.NewBrowser(t), http.MethodPost, "/api/verifier/presentation-requests", nil, nil)
	require.Equal(t, http.StatusCreated, code, string(body))
	require.NoError(t, json.Unmarshal(body, &loose))

	// Past every expiry: journey.expired for the unopened journey, presentation.expired for both requests.
	var got []map[string]any
	require.Eventually(t, func() bool {
		got = recv.Accepted()
		return len(got) >= 3
	}, 20*time.Second, 50*time.Millisecond)
	time.Sleep(2 * time.Second) // both replicas' workers had their chance to send a second copy
	got = recv.Accepted()
	count := map[string]int{}
	for _, ev := range got {
		data := ev["data"].(map[string]any)
		key := ev["type"].(string) + ":" + str(data["journeyId"]) + ":" + str(data["requestId"])
		count[key]++
	}
	assert.Equal(t, 1, count["journey.expired:"+unopened.JourneyID+":"], "journey.expired once: %v", count)
	assert.Equal(t, 1, count["presentation.expired:"+opened.JourneyID+":"+step.RequestID], "step expired once: %v", count)
	assert.Equal(t, 1, count["presentation.expired::"+loose.RequestID], "browser-started expired once: %v", count)
	assert.Len(t, got, 3, "nothing else: %v", count)
	st := journeyStatus(t, r, unopened.JourneyID)
	assert.Equal(t, "expired", st["status"])
	st = journeyStatus(t, h, opened.JourneyID)
	assert.Equal(t, "in_progress", st["status"], "opened: 60 minutes from the opening")
	assert.Equal(t, "expired", st["presentation"].(map[string]any)["status"])
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
