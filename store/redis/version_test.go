package redis_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/redis"
)

// TestRecordsEndWithTheirVersion: every record type encodes Version last, the shape the scripts read
// without decoding the record.
func TestRecordsEndWithTheirVersion(t *testing.T) {
	now := time.Now()
	tail := regexp.MustCompile(`,"version":41}$`)
	for _, rec := range []any{
		&store.Presentation{ID: "p", Claims: map[string]any{"version": 7}, CreatedAt: now, Version: 41},
		&store.IPASession{ID: "i", CreatedAt: now, Version: 41},
		&store.Journey{ID: "j", CreatedAt: now, Version: 41},
	} {
		b, err := json.Marshal(rec)
		require.NoError(t, err)
		assert.Regexp(t, tail, string(b), "%T", rec)
	}
}

// TestScriptsReadTheVersion runs the scripts' version reader on a real server: from the tail, from a
// record in another shape, and never from a nested or quoted "version".
func TestScriptsReadTheVersion(t *testing.T) {
	rdb := admin(t)
	tests := []struct {
		rec  string
		want int64
	}{
		{`{"id":"a","version":12}`, 12},
		{`{"version":7,"id":"a"}`, 7},
		{`{"id":"a","journey":{"version":3},"version":9}`, 9},
		{`{"detail":"x,\"version\":5}","version":0}`, 0},
		{`{"id":"a","detail":"q,\"version\":5}"}`, -1},          // quoted: decoded, none at the top
		{`{"detail":"y","journey":{"id":"j","version":4}}`, -1}, // nested only: decoded, none at the top
	}
	for _, tc := range tests {
		got, err := rdb.Eval(t.Context(), redis.VersionLua+`
local v = version(ARGV[1])
if v == nil then return -1 end
return v`, nil, tc.rec).Int64()
		require.NoError(t, err, tc.rec)
		assert.Equal(t, tc.want, got, tc.rec)
	}
}
