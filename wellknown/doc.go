// Package wellknown holds the two did:web descriptors an Entra Verified ID
// verifier publishes under /.well-known/ (did.json and did-configuration.json)
// and the checks an operator runs before going live.
//
// Load reads the descriptor files named by WELLKNOWN_DID_JSON and
// WELLKNOWN_DID_CONFIGURATION_JSON and keeps their bytes; NewHandler serves
// them byte for byte. CheckDID compares did.json's id with the public URL and
// the configured verifier DID (a DID hosted by Microsoft needs no descriptors),
// and CheckLinkage validates every Domain Linkage Credential of
// did-configuration.json (DIF Well Known DID Configuration, JWT form) against
// the keys of did.json, with the algorithm pinned by each key.
//
// The package has no HTTP router dependency: the handlers are plain
// net/http and the checks are pure functions with an injectable clock.
package wellknown
