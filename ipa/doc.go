// Package ipa is the IDEMIA Identity Proofing App (IPA) half of the verifier: it obtains a Cognito token
// (client credentials, reused until shortly before it expires), creates IPA sessions, builds the start URL
// given to the person, makes the per-session callback token, decodes and checks IDEMIA's end-of-process
// callback, and, when configured, retrieves the resulting identity's status and proof from the ID&V (GIPS)
// platform without following any proofUrl outside the configured host.
//
// The package holds no state and no gin: the store keeps sessions (see store.IPASession) and the web package
// maps the sentinel errors to HTTP answers (ErrUpstream → 502, ErrMalformed → 400, ErrForbidden → 403).
// Nothing here logs secrets or personal data: identity attributes and proof archives are never kept.
package ipa
