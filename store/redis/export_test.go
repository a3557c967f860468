package redis

// PubSubClientName is the CLIENT SETNAME of s's pub/sub connections, so a test can kill them only.
func (s *Store) PubSubClientName() string { return s.pubsub.name }

// Key names of the layout, for tests that inspect the server.
var (
	PresentationKey   = func(prefix, state string) string { return keys{prefix}.presentation(state) }
	ClaimsKey         = func(prefix, state string) string { return keys{prefix}.claims(state) }
	PresentationIDKey = func(prefix, id string) string { return keys{prefix}.presentationID(id) }
	SessionKey        = func(prefix, tokenHash string) string { return keys{prefix}.session(tokenHash) }
	SessionIDKey      = func(prefix, id string) string { return keys{prefix}.sessionID(id) }
)

// BucketOf is the bucket of a record's value (or of a topic no record names).
var BucketOf = bucketOf

// Tag is bucket b's hash tag.
var Tag = tag

// VersionLua is the scripts' reader of a stored record's version (a Lua function named version).
const VersionLua = versionLua
