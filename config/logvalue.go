package config

import (
	"log/slog"
	"net/url"
)

// LogValue shows the settings as read, each secret replaced by whether it is set (and a password in
// REDIS_URL removed), so the effective configuration can be logged without leaking a credential.
func (c *Config) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(Variables))
	for _, v := range Variables {
		value, ok := c.values[v.Name]
		switch {
		case !ok || value == "":
			continue
		case v.Secret:
			value = "(set)"
		case v.Name == "REDIS_URL":
			if u, err := url.Parse(value); err == nil && u.User != nil {
				u.User = url.User(u.User.Username())
				value = u.String()
			} else if err != nil {
				value = "(unparsable)"
			}
		}
		attrs = append(attrs, slog.String(v.Name, value))
	}
	return slog.GroupValue(attrs...)
}
