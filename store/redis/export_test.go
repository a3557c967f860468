package redis

// PubSubClientName is the CLIENT SETNAME of s's pub/sub connection, so a test can kill that connection only.
func (s *Store) PubSubClientName() string { return s.pubsub.client.Options().ClientName }

// Key names of the layout, for tests that inspect the server.
var (
	PresentationKey = func(prefix, id string) string { return keys{prefix}.presentation(id) }
	ClaimsKey       = func(prefix, id string) string { return keys{prefix}.claims(id) }
	StateKey        = func(prefix, state string) string { return keys{prefix}.state(state) }
	SessionKey      = func(prefix, id string) string { return keys{prefix}.session(id) }
	TokenKey        = func(prefix, hash string) string { return keys{prefix}.token(hash) }
)
