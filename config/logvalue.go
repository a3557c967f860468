package config

import (
	"log/slog"
	"strings"

	"github.com/entra-verifier/entra-verifier/logging"
)

// LogValue shows the settings as read, each secret replaced by whether it is set and every URL redacted by
// logging.URL (no user, password or query: REDIS_URL and the webhook URL may carry a secret there), so the
// effective configuration can be logged without leaking a credential.
func (c *Config) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(Variables))
	for _, v := range Variables {
		value, ok := c.values[v.Name]
		switch {
		case !ok || value == "":
			continue
		case v.Secret:
			value = "(set)"
		case strings.Contains(value, "://"): // one URL, or a comma list of them
			parts := strings.Split(value, ",")
			for i, p := range parts {
				parts[i] = logging.URL(strings.TrimSpace(p))
			}
			value = strings.Join(parts, ",")
		}
		attrs = append(attrs, slog.String(v.Name, value))
	}
	return slog.GroupValue(attrs...)
}
