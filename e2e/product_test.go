package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/i18n"
	"github.com/entra-verifier/entra-verifier/sandbox"
)

// axeFile is axe-core, installed by .ci/run (npm ci --prefix e2e/axe); it is injected into the page by the
// tests only, never served by the product.
const axeFile = "axe/node_modules/axe-core/axe.min.js"

var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(axeFile)
	return string(b), err
})

// axe runs axe-core (WCAG 2.1 A and AA rules) on the page as it is and fails on any serious or critical
// violation.
func (p *page) axe(state string) {
	p.t.Helper()
	src, err := axeSource()
	require.NoError(p.t, err, "axe-core missing: run `npm ci --prefix e2e/axe` (.ci/run does)")
	_, err = chromedp.Run(p.ctx, chromedp.Evaluate[chromedp.Void](src+";undefined"))
	require.NoError(p.t, err)
	out, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
		.then(r => JSON.stringify(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))`, chromedp.EvalAwaitPromise))
	require.NoError(p.t, err)
	var violations []string
	require.NoError(p.t, json.Unmarshal([]byte(out), &violations))
	assert.Empty(p.t, violations, "axe-core, %s at %s", state, p.vp.name)
}

// shot saves a screenshot of the state as <viewport>-<name>.png.
func (p *page) shot(name string) { p.t.Helper(); p.screenshot(p.vp.name + "-" + name) }

// reload reloads the page and waits until it has resumed from /api/journey.
func (p *page) reload() {
	p.t.Helper()
	p.do(chromedp.Reload())
	p.waitFor(`body[data-ready="true"]`)
}

func (p *page) open(url string) {
	p.t.Helper()
	p.do(chromedp.Navigate(url))
	p.waitFor("body")
}

// await evaluates js, waiting for the promise it returns.
func (p *page) await(js string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	require.NoError(p.t, err, js)
	return v
}

func (p *page) text(sel string) string {
	return p.eval(`(() => { const e = document.querySelector('` + sel + `'); return e ? e.innerText : ''; })()`)
}

// TestPageStates walks every state of the page at both viewports: after each change it reloads (the page
// must resume on the same state from /api/journey), runs axe-core and leaves a screenshot.
func TestPageStates(t *testing.T) {
	for _, vp := range []viewport{desktop, phone} {
		t.Run(vp.name, func(t *testing.T) {
			h := New(t, map[string]string{"VERIFIER_TERMS_URL": "https://bank.example/terms", "VERIFIER_PRIVACY_URL": "https://bank.example/privacy"})
			p := openPage(t, vp, "en")
			state := func(name, sel string) {
				t.Helper()
				p.waitFor(sel)
				p.reload()
				p.waitFor(sel)
				p.axe(name)
				p.shot(name)
			}
			p.open(h.URL + "/")
			state("01-start", `#ipa [data-action=start]`)

			p.click("#ipa [data-action=start]")
			p.waitFor(`#consent-error:not([hidden])`)
			assert.Equal(t, "Tick the box to accept the terms of use first.", p.text("#consent-error"))
			p.axe("02-consent-required")
			p.shot("02-consent-required")

			p.click("#consent")
			p.click("#ipa [data-action=start]")
			p.waitFor(`#ipa[data-status="pending"]`)
			id := p.idFromQR("ipa")
			state("03-ipa-pending", `#ipa[data-status="pending"] [data-role=open][href*="session-id="]`)
			assert.Equal(t, id, p.idFromQR("ipa"), "the reload resumes the same session")
			assert.True(t, p.visible(`[data-role="consent-accepted"]`), "the acceptance is remembered")

			h.EndSession(id, sandbox.IPACompleted)
			state("04-ipa-completed", `#ipa[data-status="completed"][data-done]`)
			assert.True(t, p.visible("#entra [data-action=start]"), "step 2 is offered")

			p.click("#entra [data-action=start]")
			p.waitFor(`#entra[data-status="created"]`)
			req := p.idFromQR("entra")
			state("05-entra-created", `#entra[data-status="created"] [data-role=open][href^="openid-vc://"]`)
			assert.Equal(t, req, p.idFromQR("entra"))

			require.Equal(t, http.StatusOK, h.Send(req, sandbox.Retrieved()))
			state("06-entra-retrieved", `#entra[data-status="retrieved"]`)

			megan := sandbox.People[0]
			require.Equal(t, http.StatusOK, h.Send(req, sandbox.Verified(sandbox.VerifiedIdentity(USDID, megan.Claims()))))
			state("07-entra-verified", `#entra[data-status="verified"][data-done] .portrait:not([hidden])`)
			claims := p.text("#entra .claims dl")
			for _, want := range []string{"First name", "Megan", "Date of birth", "1990-04-12", "Issued by", USDID, "Level of assurance"} {
				assert.Contains(t, claims, want)
			}

			// A newer request of this browser (made here through the API) is what the page resumes on.
			revoked := sandbox.VerifiedIdentity(USDID, megan.Claims())
			revoked.RevocationStatus = "REVOKED"
			newer := p.await(`fetch('/api/verifier/presentation-requests', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.json()).then(j => j.requestId)`)
			p.reload()
			assert.Equal(t, newer, p.idFromQR("entra"))
			p.waitFor(`#entra[data-status="created"]`)
			require.Equal(t, http.StatusOK, h.Send(p.idFromQR("entra"), sandbox.Verified(revoked)))
			state("08-entra-failed", `#entra[data-status="failed"] [data-action=restart]:not([hidden])`)
			assert.Equal(t, "The verification failed. The credential has been revoked.", p.text("#entra .status"))
			assert.Equal(t, "Do step 1 again to get a new Verified Identity, then share it.", p.text("#entra .next"))

			// A request nobody answers in time: the page says so and offers a new one.
			h.RS.SetLifetime(3 * time.Second)
			p.click("#entra [data-action=restart]")
			p.waitFor(`#entra[data-status="created"]`)
			unanswered := p.idFromQR("entra")
			assert.NotEqual(t, newer, unanswered)
			state("08b-entra-expired", `#entra[data-status="expired"] [data-action=restart]:not([hidden])`)
			assert.Equal(t, unanswered, p.await(`fetch('/api/journey').then(r => r.json()).then(j => j.presentationRequest.requestId)`),
				"the reload resumes on the expired request")
			assert.False(t, p.visible("#entra .qr img"), "no QR code of an expired request")
			assert.Equal(t, "This request has expired.", p.text("#entra .status"))
			assert.Equal(t, "Make a new request and answer it within a few minutes.", p.text("#entra .next"))
			assert.False(t, p.visible("#entra [data-role=open]"), "no link to an expired request")
			h.RS.SetLifetime(0)
			p.click("#entra [data-action=restart]")
			p.waitFor(`#entra[data-status="created"] [data-role=open][href^="openid-vc://"]`)
			assert.NotEqual(t, unanswered, p.idFromQR("entra"), "the retry makes a new request")

			// Another browser whose identity check fails: step 2 is not offered.
			q := openPage(t, vp, "en")
			q.open(h.URL + "/")
			q.click("#consent")
			q.click("#ipa [data-action=start]")
			q.waitFor(`#ipa[data-status="pending"]`)
			h.EndSession(q.idFromQR("ipa"), sandbox.IPAError)
			p = q
			state("09-ipa-failed", `#ipa[data-status="error"] [data-action=restart]:not([hidden])`)
			assert.True(t, q.visible("#entra .blocked"), "step 2 says to finish step 1 first")
			assert.False(t, q.visible("#entra [data-action=start]"), "step 2 is not offered while IPA failed")
			assert.Equal(t, "You can try the identity check again: have your identity document at hand, in good light.", q.text("#ipa .next"))

			// The pages without the script: IPA finished on another device, and a refused return address.
			r := openPage(t, vp, "en")
			r.open(h.URL + "/ipa/done")
			assert.Equal(t, "Your identity check is finished", r.text("h1"))
			r.axe("10-done-elsewhere")
			r.shot("10-done-elsewhere")
			r.open(h.URL + "/?return_to=https://evil.example/")
			assert.Equal(t, "This link cannot be used", r.text("h1"))
			r.axe("11-refused")
			r.shot("11-refused")
			p.noProblems()
			q.noProblems()
			r.noProblems("status of 400 (Bad Request) " + h.URL + "/?return_to=")
		})
	}
}

// TestPageSamePhone runs IPA in the same tab of the phone: the start button leads to IDEMIA, IDEMIA sends
// the phone back to /ipa/done, which lands on the page with step 1 done and step 2 offered.
func TestPageSamePhone(t *testing.T) {
	h := New(t, nil)
	p := openPage(t, phone, "en")
	p.open(h.URL + "/")
	p.click("#ipa [data-action=start]")
	p.waitFor(`#ipa [data-role=open][href^="https://ipa.example.com/api/v1/ipa/start?session-id="]`)
	assert.True(t, p.visible("#ipa [data-role=open]"), "the phone shows the start button")
	id := p.idFromQR("ipa")
	p.do(chromedp.Navigate("about:blank")) // the tab goes to IDEMIA's app
	h.EndSession(id, sandbox.IPACompleted)
	p.do(chromedp.Navigate(h.URL + "/ipa/done")) // IDEMIA's goto URL
	p.waitFor(`#ipa[data-status="completed"][data-done]`)
	assert.Equal(t, h.URL+"/", p.eval(`location.href`), "/ipa/done sent the browser of the session to the page")
	assert.True(t, p.visible("#ipa .done-label"), "step 1 shows it is done")
	assert.True(t, p.visible("#entra [data-action=start]"), "step 2 is offered")
	p.shot("12-same-phone-back-from-ipa")
	p.noProblems()
}

// TestPageConsentRequired: with VERIFIER_TERMS_URL the page asks for the acceptance, and the API refuses a
// create without it.
func TestPageConsentRequired(t *testing.T) {
	h := New(t, map[string]string{"VERIFIER_TERMS_URL": "https://bank.example/terms"})
	status, body, _ := h.Do(h.Browser, http.MethodPost, "/api/ipa/sessions", strings.NewReader(`{}`), map[string]string{"Content-Type": "application/json"})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, string(body), `"consent_required"`)

	p := openPage(t, desktop, "en")
	p.open(h.URL + "/")
	p.waitFor(`#ipa a[href="https://bank.example/terms"]`)
	p.click("#ipa [data-action=start]")
	p.waitFor(`#consent-error:not([hidden])`)
	assert.Equal(t, "true", p.eval(`document.getElementById('consent').getAttribute('aria-invalid')`))
	assert.Equal(t, "consent", p.eval(`document.activeElement.id`), "the checkbox gets the focus")
	assert.Equal(t, `{"journey":null,"ipaSession":null,"presentationRequest":null,"consent":{"termsUrl":"https://bank.example/terms"}}`,
		p.await(`fetch('/api/journey').then(r => r.text())`), "nothing was created")

	p.click("#consent")
	p.click("#ipa [data-action=start]")
	p.waitFor(`#ipa[data-status="pending"]`)
	accepted := p.await(`fetch('/api/journey').then(r => r.json()).then(j => j.consent.acceptedAt || '')`)
	assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, accepted)
	p.noProblems()
}

// englishLeft returns the English catalogue's texts found on the page in another language: the visible
// text, the title and the alt and aria-label attributes, without the parts left untranslated on purpose
// (the sandbox's own texts).
func englishLeft(p *page, lang string, cat *i18n.Catalogue) []string {
	seen := p.eval(`(() => {
		const skip = [...document.querySelectorAll('[data-untranslated]')].map(e => e.innerText);
		let text = document.title + '\n' + document.body.innerText;
		for (const s of skip) text = text.split(s).join('');
		for (const e of document.querySelectorAll('[alt], [aria-label]')) text += '\n' + (e.getAttribute('alt') || '') + '\n' + (e.getAttribute('aria-label') || '');
		return text; })()`)
	var left []string
	en, other := cat.Messages("en"), cat.Messages(lang)
	for key, text := range en {
		if key == "language.name" || text == other[key] || len(text) < 6 {
			continue
		}
		if strings.Contains(seen, text) {
			left = append(left, key+": "+text)
		}
	}
	return left
}

// TestPageLanguages shows every page in each language, chosen by Accept-Language and from the menu (then
// remembered), with <html lang> saying which and no English text left.
func TestPageLanguages(t *testing.T) {
	h := New(t, map[string]string{"VERIFIER_TERMS_URL": "https://bank.example/terms"})
	cat, err := i18n.Load(nil)
	require.NoError(t, err)
	for _, lang := range i18n.Shipped {
		t.Run(lang, func(t *testing.T) {
			// Accept-Language, on every page.
			p := openPage(t, desktop, lang)
			for _, path := range []string{"/", "/ipa/done", "/?return_to=https://evil.example/"} {
				p.open(h.URL + path)
				assert.Equal(t, lang, p.eval(`document.documentElement.lang`), path)
				if lang != "en" {
					assert.Empty(t, englishLeft(p, lang, cat), "%s %s", lang, path)
				}
			}
			p.open(h.URL + "/")
			p.click("#consent")
			p.click("#ipa [data-action=start]")
			p.waitFor(`#ipa[data-status="pending"]`)
			p.waitFor(`#ipa .countdown:not(:empty)`)
			if lang != "en" {
				assert.Empty(t, englishLeft(p, lang, cat), "%s, identity check started", lang)
			}
			assert.Equal(t, cat.Text(lang, "ipa.pending.desktop"), p.text("#ipa .status"))
			if lang == "fr" {
				p.shot("13-french")
			}

			// The menu, from a page in another language; the choice is remembered.
			from := "de"
			if lang == "de" {
				from = "en"
			}
			m := openPage(t, desktop, from)
			m.open(h.URL + "/")
			assert.Equal(t, from, m.eval(`document.documentElement.lang`))
			m.click(`.languages summary`)
			m.click(fmt.Sprintf(`.languages a[data-lang="%s"]`, lang))
			m.waitFor(fmt.Sprintf(`html[lang="%s"] body[data-ready="true"]`, lang))
			assert.Equal(t, h.URL+"/", m.eval(`location.href`), "?lang= is dropped once remembered")
			m.reload()
			assert.Equal(t, lang, m.eval(`document.documentElement.lang`), "the choice outlives a reload")
			assert.Equal(t, cat.Text(lang, "ipa.start"), m.text("#ipa [data-action=start]"))
			if lang != "en" {
				assert.Empty(t, englishLeft(m, lang, cat), "%s from the menu", lang)
			}
			p.noProblems("status of 400 (Bad Request) " + h.URL + "/?return_to=")
			m.noProblems()
		})
	}
}

// TestPageLanguageFromJourneyLocale is the third way to a language: a backend journey's locale comes before
// the language cookie and Accept-Language, for every shipped language, and the page shows only its steps.
func TestPageLanguageFromJourneyLocale(t *testing.T) {
	const key = "journey-locale-test-key-0123456789abcdef"
	h := New(t, map[string]string{"VERIFIER_API_KEYS": "crm:" + key})
	cat, err := i18n.Load(nil)
	require.NoError(t, err)
	for _, lang := range i18n.Shipped {
		t.Run(lang, func(t *testing.T) {
			body := strings.NewReader(`{"reference":"case-` + lang + `","steps":["ipa"],"locale":"` + lang + `"}`)
			status, b, _ := h.Do(http.DefaultClient, http.MethodPost, "/api/backend/journeys", body,
				map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"})
			require.Equal(t, http.StatusCreated, status, string(b))
			var created struct{ LaunchURL string }
			require.NoError(t, json.Unmarshal(b, &created))

			other := "de" // the person's browser asks for another language: the journey's wins
			if lang == "de" {
				other = "fr"
			}
			p := openPage(t, desktop, other)
			p.open(created.LaunchURL) // binds this browser to the journey, then 303 to the page
			p.waitFor(`body[data-ready="true"]`)
			assert.Equal(t, lang, p.eval(`document.documentElement.lang`))
			assert.Equal(t, cat.Text(lang, "ipa.start"), p.text("#ipa [data-action=start]"))
			assert.Equal(t, "false", p.eval(`String(!!document.querySelector('#entra'))`),
				"the journey has no presentation step")
			if lang != "en" {
				assert.Empty(t, englishLeft(p, lang, cat), "%s from the journey's locale", lang)
			}
			p.noProblems()
			// The link in another browser: the used-link page, in that browser's language, with its favicon.
			q := openPage(t, desktop, lang)
			q.open(created.LaunchURL)
			assert.Equal(t, lang, q.eval(`document.documentElement.lang`), "the 410 page")
			assert.Equal(t, cat.Text(lang, "gone.title"), q.text("h1"))
			if lang != "en" {
				assert.Empty(t, englishLeft(q, lang, cat), "%s, the 410 page", lang)
			}
			icon := q.eval(`(document.querySelector('link[rel=icon]') || {}).href || ''`)
			require.NotEmpty(t, icon, "the 410 page has a favicon")
			assert.Equal(t, "200", q.await(`fetch('`+icon+`').then(r => String(r.status))`))
			q.noProblems("status of 410 (Gone) " + created.LaunchURL)
		})
	}
}

// TestPageBrand applies VERIFIER_BRAND_NAME, VERIFIER_BRAND_LOGO and VERIFIER_BRAND_COLOR, and nothing on
// the page names the software or Authenticator's client name.
func TestPageBrand(t *testing.T) {
	logo := filepath.Join(t.TempDir(), "logo.svg")
	require.NoError(t, os.WriteFile(logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#0b5e3c"/><path d="M16 34l10 10 22-24" stroke="#fff" stroke-width="7" fill="none"/></svg>`), 0o600))
	h := New(t, map[string]string{"VERIFIER_BRAND_NAME": "Example Bank", "VERIFIER_BRAND_LOGO": logo, "VERIFIER_BRAND_COLOR": "#0b5e3c",
		"ENTRA_CLIENT_NAME": "Authenticator Client Name"})
	for _, vp := range []viewport{desktop, phone} {
		p := openPage(t, vp, "fr")
		p.open(h.URL + "/")
		p.waitFor(`body[data-ready="true"]`)
		assert.Equal(t, "Example Bank", p.text("h1"))
		assert.Equal(t, "Example Bank", p.eval(`document.title`))
		p.waitFor(`img.logo`)
		assert.Equal(t, "64", p.await(`new Promise(r => { const i = document.querySelector('img.logo'); i.complete ? r(String(i.naturalWidth)) : i.onload = () => r(String(i.naturalWidth)); })`))
		assert.Equal(t, "rgb(11, 94, 60)", p.eval(`getComputedStyle(document.querySelector('#ipa [data-action=start]')).backgroundColor`))
		html := p.eval(`document.documentElement.outerHTML`)
		assert.NotContains(t, strings.ToLower(html), "entra-verifier")
		assert.NotContains(t, html, "Authenticator Client Name")
		p.axe("brand")
		p.shot("14-brand")
		p.noProblems()
	}
}

// TestSandboxPhone walks the sandbox at 390×844 in one tab, the simulated phone included: the person chosen
// in the identity check is the one the simulated Authenticator offers first, the phone's buttons and birth
// dates fit its card, and the sandbox's pages (the refused page and the phone's own) carry the SANDBOX
// banner and a favicon.
func TestSandboxPhone(t *testing.T) {
	sp := startSandboxBinary(t)
	chosen := sandbox.People[2]
	p := openPage(t, phone, "en")
	fits := func(what, sel string) {
		t.Helper()
		assert.Equal(t, "yes", p.eval(`(() => { const card = document.querySelector('.phone main').getBoundingClientRect();
			const all = [...document.querySelectorAll('`+sel+`')];
			return all.length && all.every(e => { const r = e.getBoundingClientRect();
				return r.left >= card.left && r.right <= card.right && e.getClientRects().length === 1; }) ? 'yes' : 'no'; })()`),
			"%s (%s) on one line inside the phone's card", what, sel)
	}
	p.open(sp.base + "/")
	p.click("#ipa [data-action=start]")
	p.waitFor(`#ipa [data-role=phone]:not([hidden])`)
	p.open(p.eval(`document.querySelector('#ipa [data-role=phone]').href`))
	p.waitFor(`button[value="completed"]`)
	fits("birth dates", ".person .born")
	p.click(`input[name=person][value="` + chosen.ID + `"]`)
	p.click(`button[value="completed"]`)
	p.waitFor(`.phone a.button`)
	assert.Contains(t, p.text(".phone main"), chosen.FirstName+"'s VerifiedIdentity credential")
	fits("the Continue button", ".phone a.button")
	p.shot("15-sandbox-phone-ipa-finished")

	p.click(".phone a.button") // to /ipa/done, then the page, step 1 done
	p.waitFor(`#ipa[data-status="completed"][data-done]`)
	p.click("#entra [data-action=start]")
	p.waitFor(`#entra [data-role=phone]:not([hidden])`)
	p.open(p.eval(`document.querySelector('#entra [data-role=phone]').href`))
	p.waitFor(`button[value="verified"]`)
	assert.Equal(t, chosen.ID, p.eval(`document.querySelector('input[name=person]:checked').value`),
		"the person of the identity check is pre-selected")
	fits("birth dates", ".person .born")
	fits("the outcome buttons", "button[name=outcome]")
	p.shot("16-sandbox-phone-present")
	p.click(`button[value="verified"]`)
	p.waitFor(`.phone h1`)
	p.open(sp.base + "/")
	p.waitFor(`#entra[data-status="verified"] .claims dl`)
	assert.Contains(t, p.text("#entra .claims dl"), chosen.FirstName)

	for _, path := range []string{"/?return_to=https://evil.example/", "/sandbox/ipa/start?session-id=unknown"} {
		p.open(sp.base + path)
		assert.Contains(t, p.eval(`(document.querySelector('.sandbox-banner, .banner') || {}).textContent || ''`), "SANDBOX", path)
		icon := p.eval(`(document.querySelector('link[rel=icon]') || {}).href || ''`)
		require.NotEmpty(t, icon, "%s has a favicon", path)
		assert.Equal(t, "200 image/svg+xml", p.await(`fetch('`+icon+`').then(r => r.status + ' ' + r.headers.get('Content-Type').split(';')[0])`), path)
	}
	p.shot("17-sandbox-phone-unknown-session")
	p.noProblems("status of 400 (Bad Request) "+sp.base+"/?return_to=", "status of 404 (Not Found) "+sp.base+"/sandbox/ipa/start")
}
