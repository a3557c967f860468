package config

import (
	"regexp"
	"strings"
	"time"
)

// APIKey is one VERIFIER_API_KEYS entry: Name is logged, Key never is.
type APIKey struct {
	Name, Key string
}

// String keeps the key out of any log line or message that prints an APIKey.
func (k APIKey) String() string { return k.Name + ":<redacted>" }

var apiKeyName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// Launch link lifetimes VERIFIER_LAUNCH_LINK_TTL may take.
const (
	MinLaunchLinkTTL = time.Second
	MaxLaunchLinkTTL = 168 * time.Hour
)

// apiKeys parses VERIFIER_API_KEYS (comma list of NAME:KEY); problems never quote a key.
func (l *loader) apiKeys(name string) []APIKey {
	var out []APIKey
	seen := map[string]bool{}
	for i, entry := range strings.Split(l.raw(name), ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		n, key, ok := strings.Cut(entry, ":")
		switch {
		case !ok || !apiKeyName.MatchString(n):
			l.bad(name, "entry %d: must be NAME:KEY with NAME of 1 to 32 characters a-z, 0-9 or -", i+1)
			continue
		case len(key) < 32:
			l.bad(name, "key %q: must be at least 32 characters", n)
			continue
		case seen[n]:
			l.bad(name, "key %q: NAME given twice", n)
			continue
		}
		seen[n] = true
		out = append(out, APIKey{Name: n, Key: key})
	}
	return out
}

// launchTTL reads VERIFIER_LAUNCH_LINK_TTL within its bounds.
func (l *loader) launchTTL(name string) time.Duration {
	d := l.duration(name)
	if d < MinLaunchLinkTTL || d > MaxLaunchLinkTTL {
		l.bad(name, "must be between 1s and 168h, got %s", d)
	}
	return d
}
