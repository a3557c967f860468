// Package result hands a finished journey to the relying party's own systems: a signed webhook event
// (the Standard Webhooks scheme), delivered at least once from an outbox kept in the store, and a
// short-lived signed result token (ES256 JWT) for a browser redirect to an allow-listed return URL,
// whose public key is served as a JWK set.
package result
