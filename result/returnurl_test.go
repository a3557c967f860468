package result_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/result"
)

func TestParseAllowlist(t *testing.T) {
	tests := []struct {
		name string
		list string
		want []string // the entries as parsed; nil with ok false for a refused list
		ok   bool
	}{
		{"empty", "", nil, true},
		{"only commas and spaces", " , ,", nil, true},
		{"https with path", "https://rp.example.com/onboarding/", []string{"https://rp.example.com/onboarding/"}, true},
		{"no path is the root", "https://kiosk.example.com", []string{"https://kiosk.example.com/"}, true},
		{"several, trimmed", " https://a.example.com/x , http://localhost:3000/back,,http://127.0.0.1:8080/ ",
			[]string{"https://a.example.com/x", "http://localhost:3000/back", "http://127.0.0.1:8080/"}, true},
		{"scheme is case-insensitive", "HTTPS://rp.example.com/", []string{"https://rp.example.com/"}, true},
		{"http elsewhere than loopback", "http://rp.example.com/", nil, false},
		{"http on another loopback name", "http://[::1]:3000/", nil, false},
		{"another scheme", "ftp://rp.example.com/", nil, false},
		{"javascript", "javascript:alert(1)", nil, false},
		{"relative", "/onboarding/", nil, false},
		{"scheme-relative", "//rp.example.com/", nil, false},
		{"no host", "https:///onboarding/", nil, false},
		{"opaque", "https:rp.example.com/onboarding/", nil, false},
		{"user part", "https://user:pass@rp.example.com/", nil, false},
		{"query", "https://rp.example.com/onboarding/?a=1", nil, false},
		{"fragment", "https://rp.example.com/onboarding/#top", nil, false},
		{"non-ASCII host", "https://bücher.example.com/", nil, false},
		{"unparsable", "https://rp.example.com/%zz", nil, false},
		{"one bad entry spoils the list", "https://rp.example.com/, http://evil.example/", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := result.ParseAllowlist(tc.list)
			if !tc.ok {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "VERIFIER_RETURN_URL_ALLOWLIST")
				assert.Nil(t, a)
				return
			}
			require.NoError(t, err)
			var got []string
			for _, u := range a {
				got = append(got, u.String())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestAllowlistCheckTable(t *testing.T) {
	a, err := result.ParseAllowlist("https://app.example.com/start, https://kiosk.example.com, http://127.0.0.1:8080/cb/")
	require.NoError(t, err)
	tests := []struct {
		raw string
		ok  bool
	}{
		// An entry without a trailing slash is the path itself or anything under it.
		{"https://app.example.com/start", true},
		{"https://app.example.com/start/", true},
		{"https://app.example.com/start/step?x=1#frag", true},
		{"https://app.example.com/starting", false},
		{"https://app.example.com/", false},
		// A root entry takes any safe path on its origin, also none at all.
		{"https://kiosk.example.com", true},
		{"https://kiosk.example.com/", true},
		{"https://kiosk.example.com?lang=fr", true},
		{"https://kiosk.example.com/a/b/c", true},
		{"HTTPS://KIOSK.EXAMPLE.COM/a", true},
		{"https://kiosk.example.com:443/", false},
		{"https://kiosk.example.com./", false},
		{"https://sub.kiosk.example.com/", false},
		{"http://kiosk.example.com/", false},
		// http on 127.0.0.1, with its port.
		{"http://127.0.0.1:8080/cb/done", true},
		{"http://127.0.0.1:8081/cb/done", false},
		{"http://localhost:8080/cb/done", false},
		// Paths that could climb out of the prefix on some server.
		{"https://kiosk.example.com/a/..", false},
		{"https://kiosk.example.com/a/%2E%2E/b", false},
		{"https://kiosk.example.com/a%2Fb", false},
		{"https://kiosk.example.com/a%5Cb", false},
		{"https://kiosk.example.com/a;b", false},
		{"https://kiosk.example.com/a\\b", false},
		{"https://kiosk.example.com/a?next=\\evil", false},
		{"https://kiosk.example.com/%zz", false},
		{"https://kiosk.example.com/\x7f", false},
		{"data:text/html,hi", false},
		{"https://user@kiosk.example.com/", false},
		{"https://kiosk.exa\u0301mple.com/", false},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			u, err := a.Check(tc.raw)
			if !tc.ok {
				require.ErrorIs(t, err, result.ErrReturnURL)
				assert.Nil(t, u)
				return
			}
			require.NoError(t, err)
			want, err := url.Parse(tc.raw)
			require.NoError(t, err)
			assert.Equal(t, want, u, "the URL as written")
		})
	}
	var none result.Allowlist
	_, err = none.Check("https://kiosk.example.com/")
	assert.ErrorIs(t, err, result.ErrReturnURL, "an empty allow-list takes nothing")
}

func TestOrigin(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"https://rp.example.com/onboarding/?a=1", "https://rp.example.com"},
		{"https://RP.Example.COM/x", "https://rp.example.com"},
		{"http://127.0.0.1:8080/cb", "http://127.0.0.1:8080"},
		{"https://rp.example.com:8443/", "https://rp.example.com:8443"},
	}
	for _, tc := range tests {
		u, err := url.Parse(tc.raw)
		require.NoError(t, err)
		assert.Equal(t, tc.want, result.Origin(u), tc.raw)
	}
}

func TestWithToken(t *testing.T) {
	tests := []struct{ raw, token, want string }{
		{"https://rp.example.com/onboarding/", "a.b.c", "https://rp.example.com/onboarding/?result=a.b.c"},
		{"https://rp.example.com/onboarding/finish?step=2", "a.b.c", "https://rp.example.com/onboarding/finish?step=2&result=a.b.c"},
		{"https://rp.example.com/x?b=2&a=1&a=0", "t", "https://rp.example.com/x?b=2&a=1&a=0&result=t"},
		{"https://rp.example.com/x?q=a%20b", "t", "https://rp.example.com/x?q=a%20b&result=t"},
		{"https://rp.example.com/x", "a+b/c=&d", "https://rp.example.com/x?result=a%2Bb%2Fc%3D%26d"},
		{"https://rp.example.com/x#done", "t", "https://rp.example.com/x?result=t#done"},
	}
	for _, tc := range tests {
		u, err := url.Parse(tc.raw)
		require.NoError(t, err)
		got := result.WithToken(u, tc.token)
		assert.Equal(t, tc.want, got, tc.raw)
		assert.Equal(t, tc.raw, u.String(), "the allowed URL itself is left alone")
		back, err := url.Parse(got)
		require.NoError(t, err)
		assert.Equal(t, tc.token, back.Query().Get("result"))
	}
}
