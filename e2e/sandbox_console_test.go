package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

var (
	launchLink = regexp.MustCompile(`id="launch-link" href="([^"]+)"`)
	inlineCode = regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=`)
)

// asPerson plays the person with a browser of their own: opens the launch link, completes IPA on the
// simulated phone, then (when the journey has it) presents the credential of person who.
func asPerson(t *testing.T, p *sandboxProcess, launchURL, who string, presentation bool) {
	t.Helper()
	person := &sandboxProcess{base: p.base, browser: NewBrowser(t), logs: p.logs}
	path := strings.TrimPrefix(launchURL, p.base)
	require.NotEqual(t, launchURL, path, "the launch link is on the sandbox's public URL")
	status, _, page := person.call(t, http.MethodGet, path, nil, nil)
	require.Equal(t, http.StatusOK, status, "the link leads to the page")
	assert.Contains(t, page, "SANDBOX")
	var s struct{ SessionID string }
	status, _, body := person.call(t, http.MethodPost, "/api/ipa/sessions", nil, &s)
	require.Equal(t, http.StatusCreated, status, body)
	status, _, _ = person.call(t, http.MethodPost, "/sandbox/ipa/finish",
		url.Values{"session-id": {s.SessionID}, "person": {who}, "outcome": {"completed"}}, nil)
	require.Equal(t, http.StatusOK, status)
	if !presentation {
		return
	}
	var c Created
	require.Eventually(t, func() bool {
		status, _, _ = person.call(t, http.MethodPost, "/api/verifier/presentation-requests", nil, &c)
		return status == http.StatusCreated
	}, 5*time.Second, 50*time.Millisecond, "the presentation step opens once IPA completed")
	status, _, _ = person.call(t, http.MethodGet, sandbox.PhoneURL(c.URL), nil, nil)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = person.call(t, http.MethodPost, "/sandbox/phone/present",
		url.Values{"request": {c.RequestID}, "person": {who}, "outcome": {"verified"}}, nil)
	require.Equal(t, http.StatusOK, status)
}

// TestSandboxConsole drives the relying-party console over HTTP: a journey started with a reference and
// expected claims, its launch link and QR, the person's whole journey, the signed events listed with their
// signatures checked (a forged one refused), the status read, identity and proof downloaded; every page
// says SANDBOX and carries no inline script or style.
func TestSandboxConsole(t *testing.T) {
	p := startSandboxBinary(t)
	assert.Contains(t, p.logs.String(), "the relying party's backend, simulated: "+p.base+"/sandbox/console")

	status, hdr, page := p.call(t, http.MethodGet, "/sandbox/console", nil, nil)
	require.Equal(t, http.StatusOK, status)
	consolePageChecks(t, hdr, page)
	assert.Contains(t, page, "Start a journey")

	status, _, page = p.call(t, http.MethodPost, "/sandbox/console/journeys",
		url.Values{"reference": {"case-sbx-1"}, "steps": {""}, "firstName": {"Megan"}, "lastName": {""}, "locale": {"fr"}}, nil)
	require.Equal(t, http.StatusOK, status, page)
	m := launchLink.FindStringSubmatch(page)
	require.NotNil(t, m, "the journey page shows the launch link")
	launch := m[1]
	assert.True(t, strings.HasPrefix(launch, p.base+"/start/"), launch)
	assert.Contains(t, page, `data-status="pending"`)
	assert.Contains(t, page, `http-equiv="refresh"`, "the page follows the journey while it may change")
	id := regexp.MustCompile(`id="journey-id">([^<]+)<`).FindStringSubmatch(page)[1]
	status, hdr, qr := p.call(t, http.MethodGet, "/sandbox/console/journeys/"+id+"/qr.png", nil, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "image/png", hdr.Get("Content-Type"))
	assert.Equal(t, "\x89PNG", qr[:4])

	status, _, page = p.call(t, http.MethodPost, "/sandbox/console/journeys", url.Values{"reference": {""}}, nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "invalid: reference", "the backend API's refusal is shown")

	asPerson(t, p, launch, "megan", true) // the expected firstName: Microsoft's constraint holds
	require.Eventually(t, func() bool {
		_, _, page = p.call(t, http.MethodGet, "/sandbox/console/journeys/"+id, nil, nil)
		return strings.Contains(page, `data-status="completed"`) && strings.Contains(page, `data-type="journey.completed"`)
	}, 15*time.Second, 100*time.Millisecond, "status and events reach the console: %s", page)
	consolePageChecks(t, hdr, page)
	assert.NotContains(t, page, `http-equiv="refresh"`, "an ended journey stops reloading")
	for _, typ := range []string{"ipa.completed", "presentation.verified", "journey.completed"} {
		assert.Contains(t, page, `data-type="`+typ+`" data-valid="true"`, typ)
	}
	assert.NotContains(t, page, `data-valid="false"`)
	assert.Contains(t, page, "✓ signature valid")
	assert.Contains(t, page, `&#34;reference&#34;: &#34;case-sbx-1&#34;`, "the status JSON")

	status, hdr, identity := p.call(t, http.MethodGet, "/sandbox/console/journeys/"+id+"/identity", nil, nil)
	require.Equal(t, http.StatusOK, status, identity)
	assert.Equal(t, `attachment; filename="identity-`+id+`.json"`, hdr.Get("Content-Disposition"))
	assert.True(t, json.Valid([]byte(identity)), identity)
	status, hdr, proof := p.call(t, http.MethodGet, "/sandbox/console/journeys/"+id+"/proof", nil, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, hdr.Get("Content-Disposition"), "attachment")
	assert.Equal(t, "PK", proof[:2])

	// A forged event: refused with 401, listed as refused.
	body := `{"type":"journey.completed","data":{"journeyId":"` + id + `","reference":"case-forged"}}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, p.base+sandbox.ConsoleWebhookPath, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("webhook-id", "msg_forged")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("webhook-signature", "v1,bm90IHRoZSBzaWduYXR1cmU=")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, _, page = p.call(t, http.MethodGet, "/sandbox/console", nil, nil)
	assert.Contains(t, page, `data-valid="false"`)
	assert.Contains(t, page, "✗ refused: no v1 signature matches")
	assert.Contains(t, page, "case-sbx-1", "the journey is listed")
	assert.NotContains(t, p.logs.String(), "sbx_", "the console's API key is never logged")
}

func consolePageChecks(t *testing.T, hdr http.Header, page string) {
	t.Helper()
	assert.Contains(t, page, "SANDBOX")
	assert.Contains(t, hdr.Get("Content-Security-Policy"), "default-src 'self'")
	assert.Empty(t, inlineCode.FindAllString(page, -1), "no inline script or style")
}

// TestSandboxConsoleBrowser opens the console in Chromium, starts a journey, and sees the person's
// ipa.completed event arrive on the journey's page with its signature checked; no CSP violation or
// script error on the way.
func TestSandboxConsoleBrowser(t *testing.T) {
	p := startSandboxBinary(t)
	pg := newPage(t, false)
	pg.do(chromedp.Navigate(p.base + "/sandbox/console"))
	pg.waitFor("#start")
	assert.Contains(t, pg.eval(`document.body.innerText`), "SANDBOX")
	pg.eval(`(() => { document.querySelector('#reference').value = 'case-browser'; document.querySelector('input[name=steps][value=ipa]').checked = true; return ''; })()`)
	pg.click("#start")
	pg.waitFor("#launch-link")
	launch := pg.eval(`(document.querySelector('#launch-link') || {}).href || ''`) // null-safe: the page reloads itself
	assert.True(t, strings.HasPrefix(launch, p.base+"/start/"), launch)
	require.Eventually(t, func() bool {
		return pg.eval(`(() => { const i = document.querySelector('img.qr'); return String(!!i && i.complete && i.naturalWidth > 0); })()`) == "true"
	}, 10*time.Second, 50*time.Millisecond, "the QR code of the launch link is shown")
	pg.screenshot("sandbox-console-journey")

	asPerson(t, p, launch, "alex", false)
	pg.waitFor(`.event[data-type="ipa.completed"][data-valid="true"]`) // the page reloads itself while the journey runs
	pg.waitFor(`#status[data-status="completed"]`)
	assert.Contains(t, pg.eval(`document.querySelector('.event[data-type="ipa.completed"]').innerText`), "signature valid")
	pg.screenshot("sandbox-console-event")
	pg.noProblems()
}
