package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/config"
)

func TestAPIKeysAndLaunchTTL(t *testing.T) {
	key := "k0123456789abcdef0123456789abcdef"
	tests := []struct {
		name, keys, ttl string
		want            []config.APIKey
		problem         string
	}{
		{name: "none", want: nil},
		{name: "two for rotation", keys: "old:" + key + ", new:" + key + "x", want: []config.APIKey{{"old", key}, {"new", key + "x"}}},
		{name: "short key", keys: "crm:short", problem: `VERIFIER_API_KEYS: key "crm": must be at least 32 characters`},
		{name: "bad name", keys: "CRM:" + key, problem: "VERIFIER_API_KEYS: entry 1: must be NAME:KEY"},
		{name: "twice", keys: "a:" + key + ",a:" + key, problem: `VERIFIER_API_KEYS: key "a": NAME given twice`},
		{name: "ttl too long", ttl: "169h", problem: "VERIFIER_LAUNCH_LINK_TTL: must be between 1s and 168h"},
		{name: "ttl short", ttl: "1s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"VERIFIER_API_KEYS": tc.keys, "VERIFIER_LAUNCH_LINK_TTL": tc.ttl}
			c := config.Load(func(n string) string { return env[n] })
			err := c.Validate()
			if tc.problem != "" {
				assert.ErrorContains(t, err, tc.problem)
				assert.NotContains(t, err.Error(), key, "a key is never repeated")
				return
			}
			if err != nil {
				assert.NotContains(t, err.Error(), "VERIFIER_API_KEYS")
				assert.NotContains(t, err.Error(), "VERIFIER_LAUNCH_LINK_TTL")
			}
			assert.Equal(t, tc.want, c.APIKeys)
			switch {
			case tc.ttl == "":
				assert.Equal(t, 30*time.Minute, c.LaunchLinkTTL)
			case tc.problem == "":
				want, err := time.ParseDuration(tc.ttl)
				require.NoError(t, err)
				assert.Equal(t, want, c.LaunchLinkTTL)
			}
			for _, k := range c.APIKeys {
				assert.NotContains(t, k.String(), k.Key)
			}
		})
	}
}
