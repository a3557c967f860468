// Package routes names every path of the service's HTTP API once: web mounts them as gin templates, and the
// domain packages build the URLs they hand to Microsoft, IDEMIA and the person from the same names.
package routes

import "net/url"

// The routes, as gin templates (":id" and ":token" are path parameters).
const (
	Healthz = "/healthz"
	Readyz  = "/readyz"
	Metrics = "/metrics"
	Page    = "/"
	Static  = "/static/*path"
	Sandbox = "/sandbox/*path"
	JWKS    = "/.well-known/jwks.json"
	// PageJourney is what the page resumes from: this browser's journey, newest session and request.
	PageJourney = "/api/journey"
	// BrandLogo and BrandCSS serve VERIFIER_BRAND_LOGO and the accent colour (no inline style under the CSP).
	BrandLogo = "/brand/logo"
	BrandCSS  = "/brand/brand.css"

	IPASessions  = "/api/ipa/sessions"
	IPASession   = IPASessions + "/:id"
	IPAQR        = IPASession + "/qr.png"
	IPAEvents    = IPASession + "/events"
	IPACallback  = "/api/ipa/callback/:token"
	IPADone      = "/ipa/done"
	Presentation = PresentationRequests + "/:id"

	PresentationRequests = "/api/verifier/presentation-requests"
	PresentationQR       = Presentation + "/qr.png"
	PresentationEvents   = Presentation + "/events"
	PresentationReturn   = Presentation + "/return"
	EntraCallback        = "/api/verifier/callback"
)

// IPACallbackPath is the callback path registered with IDEMIA for one session's token.
func IPACallbackPath(token string) string { return "/api/ipa/callback/" + url.PathEscape(token) }

// IPAQRPath is the QR code of session id's start URL.
func IPAQRPath(id string) string { return IPASessions + "/" + url.PathEscape(id) + "/qr.png" }

// PresentationQRPath is the QR code of presentation request id's URL.
func PresentationQRPath(id string) string {
	return PresentationRequests + "/" + url.PathEscape(id) + "/qr.png"
}

// The relying party's backend routes and the launch link (SPEC section 9).
const (
	Backend         = "/api/backend/"
	Journeys        = Backend + "journeys"
	Journey         = Journeys + "/:journeyId"
	JourneyIdentity = Journey + "/identity"
	JourneyProof    = Journey + "/proof"
	Launch          = "/start/:launchToken"
)

// LaunchPath is the launch link path of token.
func LaunchPath(token string) string { return "/start/" + url.PathEscape(token) }
