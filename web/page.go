package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/gin-gonic/gin"
)

//go:embed templates/*.html static
var assets embed.FS

// contentSecurityPolicy is the page's CSP: no inline script or style, nothing from another origin;
// data: images only for the verified portrait.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageData is what the page template renders.
type pageData struct {
	Name, Purpose string
	IPA, Entra    bool
	Sandbox       bool
	Version       string // fingerprint of the static assets, for cache busting
	ReturnTo      string // allow-listed return URL the journey ends at, if any
}

// mountPage serves the person's page at / and its static assets under /static/.
func (s *Server) mountPage() error {
	tmpl, err := template.ParseFS(assets, "templates/*.html")
	if err != nil {
		return err
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return err
	}
	version, err := fingerprint(static)
	if err != nil {
		return err
	}
	s.page = pageData{
		Name: s.cfg.Entra.ClientName, Purpose: s.cfg.Entra.Purpose,
		IPA: s.sessions != nil, Entra: s.presentations != nil, Sandbox: s.sandbox != nil, Version: version,
	}
	s.engine.SetHTMLTemplate(tmpl)
	s.engine.GET(routes.Page, func(c *gin.Context) {
		returnTo, ok := s.pageReturnTo(c)
		if !ok {
			return
		}
		page := s.page
		page.ReturnTo = returnTo
		j, err := s.activeJourney(c)
		if err != nil {
			writeError(c, err)
			return
		}
		if j != nil { // a backend journey's page shows exactly its steps
			page.IPA = page.IPA && j.Has(store.StepIPA)
			page.Entra = page.Entra && j.Has(store.StepPresentation)
			page.ReturnTo = j.ReturnURL
		}
		htmlHeaders(c)
		c.HTML(http.StatusOK, "index.html", page)
	})
	files := http.FileServer(http.FS(static))
	s.engine.GET(routes.Static, func(c *gin.Context) {
		if strings.HasSuffix(c.Param("path"), "/") { // no directory listings
			writeError(c, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such file"})
			return
		}
		c.Header("Cache-Control", "public, max-age=86400")
		c.Request.URL.Path = c.Param("path")
		files.ServeHTTP(c.Writer, c.Request)
	})
	return nil
}

// htmlHeaders are the headers every HTML page carries (SPEC section 8).
func htmlHeaders(c *gin.Context) {
	c.Header("Content-Security-Policy", contentSecurityPolicy)
	c.Header("X-Frame-Options", "DENY")
	c.Header("Cache-Control", "no-store")
}

// fingerprint hashes the static files, so their URLs change whenever they do.
func fingerprint(static fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12], err
}
