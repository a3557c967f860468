package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/i18n"
	"github.com/entra-verifier/entra-verifier/routes"
)

//go:embed templates/*.html static
var assets embed.FS

// contentSecurityPolicy is the page's CSP: no inline script or style, nothing from another origin;
// data: images only for the verified portrait.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// logoPolicy is the brand logo's own CSP: an SVG opened on its own runs nothing and loads nothing.
const logoPolicy = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// pageSite is what every HTML page renders the same for everyone.
type pageSite struct {
	IPA, Entra bool
	Sandbox    bool
	Version    string // fingerprint of the static assets and the brand, for cache busting
	Logo       bool
	TermsURL   string
	PrivacyURL string
	brandName  string // "" for the default name, translated per language
	logo       []byte
	logoType   string
	css        []byte // the accent colour, as a style sheet (the CSP allows no inline style)
}

// pageData is what one HTML page renders: the site, and this request's language and return URL.
type pageData struct {
	pageSite
	Lang         string
	Languages    []languageLink
	Brand        string
	BrandHeading bool              // the brand name is the page's h1
	ReturnTo     string            // allow-listed return URL the journey ends at, if any
	Messages     map[string]string // the language's catalogue, for the page's script
	cat          *i18n.Catalogue
}

// pageOptions are what one handler adds to a page.
type pageOptions struct {
	ReturnTo string
	// Journey, when set, is the backend journey the browser follows: the page shows exactly its steps, ends
	// at its return URL and speaks its locale.
	Journey *store.Journey
	// BrandHeading makes the brand name the page's h1 (the person's page; the others have their own).
	BrandHeading bool
}

// languageLink is one entry of the language menu.
type languageLink struct {
	Code, Name, Href string
	Current          bool
}

// T returns the text of key in the page's language; args are {name} replacements, name then value.
func (p pageData) T(key string, args ...string) string { return p.cat.Text(p.Lang, key, args...) }

// mountPage serves the person's page at /, its static assets under /static/ and the brand under /brand/.
func (s *Server) mountPage() error {
	tmpl, err := template.ParseFS(assets, "templates/*.html")
	if err != nil {
		return err
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return err
	}
	if s.catalogue, err = i18n.Load(s.cfg.Page.Languages); err != nil {
		return err
	}
	site := pageSite{
		IPA: s.sessions != nil, Entra: s.presentations != nil, Sandbox: s.sandbox != nil,
		TermsURL: s.cfg.Page.TermsURL, PrivacyURL: s.cfg.Page.PrivacyURL,
		css: []byte(":root { --accent: " + s.cfg.Page.BrandColor + "; }\n"),
	}
	if name := s.cfg.Page.BrandName; name != config.DefaultBrandName {
		site.brandName = name
	}
	if path := s.cfg.Page.BrandLogo; path != "" {
		if site.logo, site.logoType, err = config.BrandLogo(path); err != nil {
			return err
		}
		site.Logo = true
	}
	if site.Version, err = fingerprint(static, site.css, site.logo); err != nil {
		return err
	}
	s.page = site
	s.engine.SetHTMLTemplate(tmpl)
	s.engine.GET(routes.Page, func(c *gin.Context) {
		returnTo, ok := s.pageReturnTo(c)
		if !ok {
			return
		}
		j, err := s.activeJourney(c.Request.Context(), s.ownerFromCookie(c))
		if err != nil {
			writeError(c, err)
			return
		}
		s.renderPage(c, http.StatusOK, "index.html", pageOptions{ReturnTo: returnTo, BrandHeading: true, Journey: j})
	})
	s.engine.GET(routes.BrandCSS, func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=86400")
		c.Data(http.StatusOK, "text/css; charset=utf-8", s.page.css)
	})
	if site.Logo {
		s.engine.GET(routes.BrandLogo, func(c *gin.Context) {
			c.Header("Content-Security-Policy", logoPolicy)
			c.Header("Cache-Control", "public, max-age=86400")
			c.Data(http.StatusOK, s.page.logoType, s.page.logo)
		})
	}
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

// renderPage answers the HTML page name in the request's language. A ?lang= choosing an offered language
// is remembered in a cookie, and the browser sent back to the same address without it.
func (s *Server) renderPage(c *gin.Context, status int, name string, opts pageOptions) {
	if chosen, ok := c.GetQuery("lang"); ok {
		if s.catalogue.Has(chosen) {
			http.SetCookie(c.Writer, &http.Cookie{
				Name: s.langCookie(), Value: chosen, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
				SameSite: http.SameSiteLaxMode, Secure: s.cookieName == SecureCookieName,
			})
		}
		q := c.Request.URL.Query()
		q.Del("lang")
		target := url.URL{Path: c.Request.URL.Path, RawQuery: q.Encode()}
		c.Redirect(http.StatusSeeOther, target.String())
		return
	}
	htmlHeaders(c)
	c.Header("Vary", "Accept-Language, Cookie")
	c.HTML(status, name, s.pageFor(c, opts))
}

// pageFor is the page data for c's language: the journey's locale, else the person's choice (the language
// cookie), else the best match of Accept-Language among the offered languages, else the first of them.
func (s *Server) pageFor(c *gin.Context, opts pageOptions) pageData {
	lang := ""
	j := opts.Journey
	switch ck, err := c.Request.Cookie(s.langCookie()); {
	case j != nil && s.catalogue.Has(j.Locale):
		lang = j.Locale
	case err == nil && s.catalogue.Has(ck.Value):
		lang = ck.Value
	default:
		lang = s.catalogue.Match(c.GetHeader("Accept-Language"))
	}
	p := pageData{pageSite: s.page, Lang: lang, ReturnTo: opts.ReturnTo, BrandHeading: opts.BrandHeading,
		Messages: s.catalogue.Messages(lang), cat: s.catalogue}
	if j != nil { // a backend journey's page shows exactly its steps
		p.IPA = p.IPA && j.Has(store.StepIPA)
		p.Entra = p.Entra && j.Has(store.StepPresentation)
		p.ReturnTo = j.ReturnURL
	}
	p.Brand = s.page.brandName
	if p.Brand == "" {
		p.Brand = p.T("brand.default")
	}
	for _, code := range s.catalogue.Offered() {
		q := url.Values{"lang": {code}} // only an allowed return URL is carried over, never a refused one
		if opts.ReturnTo != "" {
			q.Set("return_to", opts.ReturnTo)
		}
		href := url.URL{Path: c.Request.URL.Path, RawQuery: q.Encode()}
		p.Languages = append(p.Languages, languageLink{Code: code, Name: s.catalogue.Name(code), Href: href.String(), Current: code == lang})
	}
	return p
}

// langCookie is the name of the cookie remembering the person's language: __Host- under https, like the
// binding cookie.
func (s *Server) langCookie() string {
	if s.cookieName == SecureCookieName {
		return "__Host-verifier_lang"
	}
	return "verifier_lang"
}

// htmlHeaders are the headers every HTML page carries (SPEC section 8).
func htmlHeaders(c *gin.Context) {
	c.Header("Content-Security-Policy", contentSecurityPolicy)
	c.Header("X-Frame-Options", "DENY")
	c.Header("Cache-Control", "no-store")
}

// fingerprint hashes the static files and extra bytes (the brand), so their URLs change whenever they do.
func fingerprint(static fs.FS, extra ...[]byte) (string, error) {
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
	for _, b := range extra {
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], err
}
