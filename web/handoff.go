package web

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/store"
)

// Handoff is the redirect hand-off to the relying party: the allow-list of return URLs, the token signer
// and the claims it may carry. Nil when VERIFIER_RETURN_URL_ALLOWLIST is not set.
type Handoff struct {
	Allowlist result.Allowlist
	Signer    *result.Signer
	Claims    result.Claims
}

// errReturnTo is the answer to a return URL off the allow-list.
var errReturnTo = &Error{Status: http.StatusBadRequest, Code: "return_to_not_allowed",
	Message: "this return address is not allowed by the verifier's configuration"}

// createBody is the optional JSON body of POST /api/verifier/presentation-requests.
type createBody struct {
	ReturnTo string `json:"returnTo"`
}

// returnTo reads the create body's returnTo and checks it against the allow-list ("" when absent).
func (s *Server) returnTo(c *gin.Context) (string, error) {
	var body createBody
	if err := readBody(c, &body); err != nil {
		return "", err
	}
	if body.ReturnTo == "" {
		return "", nil
	}
	return s.allowedReturn(body.ReturnTo)
}

// allowedReturn is raw as handed back to, when the return allow-list has it; errReturnTo otherwise, and
// always without an allow-list.
func (s *Server) allowedReturn(raw string) (string, error) {
	if s.handoff == nil {
		return "", errReturnTo
	}
	u, err := s.handoff.Allowlist.Check(raw)
	if err != nil {
		return "", errReturnTo
	}
	return u.String(), nil
}

// readBody reads a create's optional JSON body (at most 16 KiB) into v; an empty body leaves v as it is.
func readBody(c *gin.Context, v any) error {
	raw, err := readLimited(c, 16<<10)
	if err != nil {
		return err
	}
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "malformed", Message: "the body is not the expected JSON", Err: err}
	}
	return nil
}

// presentationReturn sends the browser back to the request's return URL with result=<signed token>, once.
func (s *Server) presentationReturn(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := s.readPresentation(c)
	if err == nil && (p.ReturnTo == "" || s.handoff == nil) {
		err = store.ErrNotFound
	}
	if err != nil {
		writeError(c, err)
		return
	}
	target, err := s.handoff.Allowlist.Check(p.ReturnTo) // re-checked: the allow-list may have changed since
	if err != nil {
		writeError(c, errReturnTo)
		return
	}
	if p, err = s.presentations.HandOff(ctx, p.ID, s.ownerFromCookie(c)); err != nil {
		writeError(c, err)
		return
	}
	data := s.resultData(ctx, p)
	token, err := s.handoff.Signer.Token(s.cfg.PublicURL.String(), result.Origin(target), target.String(), data, s.now())
	if err != nil {
		writeError(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, result.WithToken(target, token))
}

func (s *Server) resultData(_ context.Context, p *store.Presentation) result.Data {
	return result.PresentationEvent(p, s.handoff.Claims, s.now()).Data
}

// pageReturnTo checks the page's ?return_to= and answers a clear refusal page when it is not allowed.
func (s *Server) pageReturnTo(c *gin.Context) (string, bool) {
	raw, present := c.GetQuery("return_to")
	if !present {
		return "", true
	}
	u, err := s.allowedReturn(raw)
	if err != nil {
		s.renderPage(c, http.StatusBadRequest, "refused.html", pageOptions{})
		return "", false
	}
	return u, true
}

// jwks serves the result token's public key.
func (s *Server) jwks(c *gin.Context) {
	c.Header("Access-Control-Allow-Origin", "*")
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", s.handoff.Signer.JWKS())
}
