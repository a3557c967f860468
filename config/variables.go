package config

// Variable is one environment variable Load reads. Variables is the single list of them: Load takes each
// default from it, and README's configuration table is generated from it (`make config-table`).
type Variable struct {
	Name string
	// Default is the value used when the variable is unset or empty; "" means none.
	Default string
	// DefaultNote describes a default that is not a fixed value, shown in place of Default.
	DefaultNote string
	// Secret marks a credential: keep it in a secret store, never in a ConfigMap, an image or a log.
	Secret      bool
	Description string
}

// DefaultBrandName is VERIFIER_BRAND_NAME's default; the page translates it.
const DefaultBrandName = "Identity verification"

// Variables lists every variable Load reads, in the order README shows them.
var Variables = []Variable{
	{Name: "VERIFIER_LISTEN_ADDR", Default: ":8080", Description: "listen address (the sandbox listens on `127.0.0.1:8080` unless this is set)"},
	{Name: "VERIFIER_PUBLIC_URL", DefaultNote: "required", Description: "external base URL; callback and goto URLs derive from it, never from request headers; https, except `http://localhost` / `http://127.0.0.1` for development"},
	{Name: "VERIFIER_REGION", Default: "us", Description: "IDEMIA platform: `us` → `did:web:us.did.idemia.io`, `eu` → `did:web:eu.did.idemia.io`"},
	{Name: "VERIFIER_ACCEPTED_REGIONS", DefaultNote: "the region", Description: "comma list of regions whose IDEMIA DID is trusted as issuer"},
	{Name: "VERIFIER_IDEMIA_STAGE", DefaultNote: "– (production)", Description: "an IDEMIA lower stage (`[a-z0-9]{1,16}`, e.g. `stg`): every region's DID becomes `did:web:{region}.did-{stage}.idemia.io`"},
	{Name: "VERIFIER_ACCEPTED_ISSUERS", Description: "comma list of issuer DIDs (each `did:<method>:<id>`, e.g. the `acceptedIssuers` of the request body the Entra admin center generates for IDEMIA's credential); when set it replaces the region-derived list in `acceptedIssuers` and in our own issuer check"},
	{Name: "VERIFIER_STORE", Default: "memory", Description: "`memory` (one process) or `redis` (several replicas)"},
	{Name: "REDIS_URL", Description: "`redis://` or `rediss://` URL, required when the store is `redis`, read by go-redis's parser for `VERIFIER_REDIS_MODE` (its query options work); a password in it makes it a secret"},
	{Name: "VERIFIER_REDIS_MODE", Default: "single", Description: "`single` (one server, or a managed endpoint that hides failover: `redis://host:6379/0`), `sentinel` (`redis://sentinel1:26379/0?master_name=NAME&addr=sentinel2:26379`) or `cluster` (`redis://node1:6379?addr=node2:6379`); with `sentinel` and `cluster` a write is answered only once a replica acknowledged it"},
	{Name: "REDIS_KEY_PREFIX", Default: "entra-verifier:", Description: "prefix of every Redis key and channel, to keep deployments apart on one server (an ACL user may be limited to `~prefix*` and `&prefix*`); no `{` or `}`"},
	{Name: "VERIFIER_SANDBOX", Default: "false", Description: "run against local simulators of Microsoft and IDEMIA (same as `--sandbox`); refused when a real credential is set"},
	{Name: "VERIFIER_TRUSTED_PROXIES", Description: "comma list of CIDRs or IPs whose `X-Forwarded-For` is believed (client IP for rate limits and logs only)"},
	{Name: "VERIFIER_RATE_LIMIT_PER_IP", Default: "20/min", Description: "creates (IPA sessions and presentation requests together) per client IP, as count/`s`, `min` or `h`; over it: 429 with `Retry-After`"},
	{Name: "VERIFIER_RATE_LIMIT_GLOBAL", Default: "600/min", Description: "creates per deployment (all replicas together with the redis store)"},
	{Name: "VERIFIER_STREAMS_PER_BROWSER", Default: "8", Description: "open event streams one browser (binding cookie) may hold at once, both kinds together; over it: 429 `too_many_streams` (counted per replica)"},
	{Name: "VERIFIER_METRICS_ADDR", Description: "when set (e.g. `:9090`), `/metrics` is served on this address only, and the public listener answers 404 there"},
	{Name: "VERIFIER_CLAIMS_RETENTION", Default: "5m", Description: "how long verified claims stay readable after the verification (never past the request's expiry); then only the status remains"},
	{Name: "VERIFIER_RESULT_WEBHOOK_URL", Description: "optional: where a signed result event is POSTed when a presentation ends (Standard Webhooks); https, except `http://localhost` / `http://127.0.0.1`; a user and password in it (sent as Basic auth) or a token in its query make it a secret"},
	{Name: "VERIFIER_RESULT_WEBHOOK_SECRET", Secret: true, Description: "HMAC key of the result webhook's signature (`whsec_<base64>` or at least 16 characters); required with the URL"},
	{Name: "VERIFIER_RESULT_WEBHOOK_IPA", Default: "false", Description: "also send a result event when an IPA session ends"},
	{Name: "VERIFIER_RESULT_CLAIMS", Default: "firstName,lastName,dateOfBirth", Description: "comma list of the claims handed to the relying party (webhook and result token); the portrait only if listed"},
	{Name: "VERIFIER_RETURN_URL_ALLOWLIST", Description: "comma list of return URL prefixes (exact origin and path prefix) a journey started with `/?return_to=` may end at"},
	{Name: "VERIFIER_API_KEYS", Secret: true, Description: "backend API keys: comma list of `NAME:KEY`, NAME `[a-z0-9-]{1,32}` (logged), KEY at least 32 characters (never logged); several at once for rotation; without it every `/api/backend/` route answers 404"},
	{Name: "VERIFIER_LAUNCH_LINK_TTL", Default: "30m", Description: "how long a backend journey's launch link may wait to be opened, `1s` to `168h`; once opened the journey lasts 60 minutes"},
	{Name: "VERIFIER_RESULT_SIGNING_KEY", DefaultNote: "generated at start (memory store only)", Secret: true, Description: "P-256 private key (PEM, or the path of a PEM file) signing the result token; its public key is served at `/.well-known/jwks.json`"},
	{Name: "VERIFIER_TERMS_URL", Description: "the relying party's Terms of Use (https, or http on localhost): when set, the person must accept them on the page before the identity check starts, and the acceptance time goes with the IPA session and its result events"},
	{Name: "VERIFIER_PRIVACY_URL", Description: "the relying party's privacy notice (https, or http on localhost), linked beside the terms"},
	{Name: "VERIFIER_BRAND_NAME", Default: DefaultBrandName, Description: "heading and title of the person's page (never `ENTRA_CLIENT_NAME`, which is what Authenticator shows); left at the default, the page shows the default in its own language"},
	{Name: "VERIFIER_BRAND_LOGO", Description: "path of an SVG or PNG file (at most 256 KiB) shown in the page header"},
	{Name: "VERIFIER_BRAND_COLOR", Default: "#1d4ed8", Description: "accent colour of the page, `#rrggbb`; refused when white text on it has a contrast ratio under 4.5:1"},
	{Name: "VERIFIER_LANGUAGES", DefaultNote: "every shipped language: `en,fr,de,es,it,nl,pt,pl`", Description: "comma list of the page's offered languages; the first is the fallback when the person's browser asks for none of them"},
	{Name: "ENTRA_TENANT_ID", Description: "presentation half: Entra tenant (directory) ID of the app registration"},
	{Name: "ENTRA_CLIENT_ID", Description: "presentation half: application (client) ID of the app registration"},
	{Name: "ENTRA_CLIENT_SECRET", Secret: true, Description: "presentation half: client secret of the app registration (or `ENTRA_CLIENT_CERTIFICATE`, or `ENTRA_CLIENT_ASSERTION_FILE`: exactly one credential)"},
	{Name: "ENTRA_CLIENT_CERTIFICATE", Secret: true, Description: "instead of the secret: PEM certificate with its private key, or the path of a file holding one"},
	{Name: "ENTRA_CLIENT_ASSERTION_FILE", DefaultNote: "`AZURE_FEDERATED_TOKEN_FILE` when that is set and no other credential is", Description: "instead of the secret (recommended on Kubernetes): path of a federated client assertion (Azure Workload Identity), read afresh at every token request and sent as `client_assertion`; no secret in the deployment"},
	{Name: "AZURE_FEDERATED_TOKEN_FILE", Description: "set by Azure Workload Identity in a pod labelled `azure.workload.identity/use: \"true\"`; the default of `ENTRA_CLIENT_ASSERTION_FILE`"},
	{Name: "ENTRA_VALIDATE_LINKED_DOMAIN", Default: "true", Description: "`validateLinkedDomain` of every presentation request: Microsoft checks the issuer's linked domain"},
	{Name: "ENTRA_AUTHORITY_HOST", Default: "https://login.microsoftonline.com", Description: "identity platform host (other clouds, tests)"},
	{Name: "ENTRA_REQUEST_SERVICE_URL", Default: "https://verifiedid.did.msidentity.com/v1.0", Description: "Verified ID Request Service base URL"},
	{Name: "ENTRA_VERIFIER_DID", Description: "presentation half: your tenant's verifier DID, the `authority` of every presentation request (never IDEMIA's)"},
	{Name: "ENTRA_CLIENT_NAME", Default: "Idemia DID", Description: "`registration.clientName` shown in Authenticator"},
	{Name: "ENTRA_PURPOSE", Description: "`registration.purpose` and credential purpose text shown in Authenticator"},
	{Name: "ENTRA_CALLBACK_SECRET", DefaultNote: "random at start (memory store only)", Secret: true, Description: "key of the per-request callback HMAC, at least 16 characters; required with the redis store (every replica shares it)"},
	{Name: "ENTRA_FACE_CHECK", Default: "false", Description: "ask for Face Check against the credential's photo"},
	{Name: "ENTRA_FACE_CHECK_THRESHOLD", Default: "70", Description: "Face Check match confidence required, 50–100"},
	{Name: "ENTRA_FACE_CHECK_PHOTO_CLAIM", Default: "portrait", Description: "claim holding the photo Face Check compares with"},
	{Name: "IPA_COGNITO_URL", Description: "IPA half: IDEMIA Cognito token endpoint base (`/oauth2/token` is added)"},
	{Name: "IPA_CLIENT_ID", Description: "IPA half: Cognito client ID of the IPA application"},
	{Name: "IPA_CLIENT_SECRET", Secret: true, Description: "IPA half: Cognito client secret of the IPA application"},
	{Name: "IPA_CREATE_SESSION_URL", Default: "https://rp-handler.did.idemia.io/api/v1/sessions", Description: "IDEMIA create-session endpoint"},
	{Name: "IPA_START_URL", Default: "https://rp-handler.did.idemia.io/api/v1/ipa/start", Description: "end-user start URL handed to the phone (`?session-id=` is added)"},
	{Name: "IPA_APPLICATION_ID", Description: "expected `applicationId` of IDEMIA's callbacks (any, when unset)"},
	{Name: "IDV_URL", Description: "optional identity retrieval: ID&V host, e.g. `proofing.idemia.io` (an `https://host` form is accepted); goes with `GIPS_RS_API_KEY`"},
	{Name: "GIPS_RS_API_KEY", Secret: true, Description: "optional identity retrieval: ID&V API key"},
	{Name: "WELLKNOWN_DID_JSON", Description: "path of the `did.json` served at `/.well-known/did.json`, byte for byte (not served when unset)"},
	{Name: "WELLKNOWN_DID_CONFIGURATION_JSON", Description: "path of the `did-configuration.json` served at `/.well-known/did-configuration.json`"},
}

// variable returns the entry of Variables named name; a name missing from the list is a programming error.
func variable(name string) Variable {
	for _, v := range Variables {
		if v.Name == name {
			return v
		}
	}
	panic("config: " + name + " is read but missing from config.Variables")
}
