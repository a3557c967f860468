package sandbox_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

// TestVerifyWebhook checks the console's Standard Webhooks check against the verifier's own signer.
func TestVerifyWebhook(t *testing.T) {
	secret, now := []byte("0123456789abcdef0123456789abcdef"), time.Unix(1_790_000_000, 0)
	body := []byte(`{"type":"journey.completed"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := result.Sign(secret, "msg_1", now.Unix(), body)
	other := result.Sign([]byte("another secret of 32 characters!"), "msg_1", now.Unix(), body)
	for _, tt := range []struct {
		name, id, ts, sig string
		body              []byte
		at                time.Time
		want              string // "" for valid
	}{
		{"valid", "msg_1", ts, good, body, now, ""},
		{"one of several", "msg_1", ts, "v1,AAAA " + good, body, now, ""},
		{"4 minutes late", "msg_1", ts, good, body, now.Add(4 * time.Minute), ""},
		{"another secret", "msg_1", ts, other, body, now, "no v1 signature matches"},
		{"another id", "msg_2", ts, good, body, now, "no v1 signature matches"},
		{"another body", "msg_1", ts, good, []byte(`{"type":"journey.expired"}`), now, "no v1 signature matches"},
		{"another version", "msg_1", ts, "v2," + good[3:], body, now, "no v1 signature matches"},
		{"not base64", "msg_1", ts, "v1,***", body, now, "no v1 signature matches"},
		{"6 minutes late", "msg_1", ts, good, body, now.Add(6 * time.Minute), "5 minutes"},
		{"6 minutes early", "msg_1", ts, good, body, now.Add(-6 * time.Minute), "5 minutes"},
		{"timestamp in milliseconds", "msg_1", ts + "000", good, body, now, "5 minutes"},
		{"timestamp not a number", "msg_1", "soon", good, body, now, "Unix seconds"},
		{"no signature", "msg_1", ts, "", body, now, "missing"},
		{"no id", "", ts, good, body, now, "missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := sandbox.VerifyWebhook(secret, tt.id, tt.ts, tt.sig, tt.body, tt.at)
			if tt.want == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.want)
			}
		})
	}
}
