package result_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/result"
)

// TestAllowlistRefusesResultParameter: a return URL that already carries a result parameter, in any form a
// relying party's server could read as one, is refused like a URL off the list (SPEC section 8).
func TestAllowlistRefusesResultParameter(t *testing.T) {
	a, err := result.ParseAllowlist("https://rp.example.com/onboarding/")
	require.NoError(t, err)
	tests := []struct {
		name, raw string
		ok        bool
	}{
		{"plain", "https://rp.example.com/onboarding/x?result=eyJhbGciOi", false},
		{"empty value", "https://rp.example.com/onboarding/x?result=", false},
		{"no value", "https://rp.example.com/onboarding/x?result", false},
		{"after another", "https://rp.example.com/onboarding/x?a=1&result=evil", false},
		{"after a semicolon", "https://rp.example.com/onboarding/x?a=1;result=evil", false},
		{"percent-encoded name", "https://rp.example.com/onboarding/x?%72esult=evil", false},
		{"upper case", "https://rp.example.com/onboarding/x?RESULT=evil", false},
		{"php array", "https://rp.example.com/onboarding/x?result[]=evil", false},
		{"php array encoded", "https://rp.example.com/onboarding/x?result%5B0%5D=evil", false},
		{"leading space", "https://rp.example.com/onboarding/x?+result=evil", false},
		{"fragment pair", "https://rp.example.com/onboarding/x#result=evil", false},
		{"fragment anchor", "https://rp.example.com/onboarding/x#result", true},
		{"other names", "https://rp.example.com/onboarding/x?results=1&myresult=2&result_id=3", true},
		{"result as a value", "https://rp.example.com/onboarding/x?next=result", true},
		{"result in the path", "https://rp.example.com/onboarding/result?step=2", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Check(tc.raw)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, result.ErrReturnURL)
			}
		})
	}
}

// FuzzAllowlistCheck: whatever is offered, an accepted return URL is on the list, has no user part, and
// leaves WithToken's result the only one a server parsing the query finds.
func FuzzAllowlistCheck(f *testing.F) {
	for _, seed := range []string{
		"https://rp.example.com/onboarding/", "https://rp.example.com/onboarding/x?a=1&result=2",
		"https://rp.example.com/onboarding/x?%72esult=1", "https://rp.example.com/onboarding/../x",
		"https://user@rp.example.com/onboarding/", "https://rp.example.com/onboarding/x#result=1",
		"//evil.example/onboarding/", "javascript:alert(1)", "https://rp.example.com/onboarding/x?a=1;b=2",
	} {
		f.Add(seed)
	}
	a, err := result.ParseAllowlist("https://rp.example.com/onboarding/")
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := a.Check(raw)
		if err != nil {
			return
		}
		if u.Scheme != "https" || !strings.EqualFold(u.Host, "rp.example.com") || u.User != nil {
			t.Fatalf("%q accepted as %v: off the list", raw, u)
		}
		if !strings.HasPrefix(u.EscapedPath(), "/onboarding/") {
			t.Fatalf("%q accepted with path %q", raw, u.EscapedPath())
		}
		back, err := url.Parse(result.WithToken(u, "TOKEN"))
		if err != nil {
			t.Fatalf("%q: the URL with its token does not parse: %v", raw, err)
		}
		q, _ := url.ParseQuery(back.RawQuery)
		for name, values := range q {
			if strings.EqualFold(name, "result") && (name != "result" || len(values) != 1 || values[0] != "TOKEN") {
				t.Fatalf("%q: the URL with its token has result values %q under %q", raw, values, name)
			}
		}
	})
}
