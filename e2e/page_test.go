package e2e

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/sandbox"
)

// TestPageDesktop walks both steps in a real headless Chromium: the QR codes load, IDEMIA's and
// Microsoft's callbacks (sent by the test through the fakes) move the page live, the verified claims and
// portrait render, and a failing presentation shows its reason.
func TestPageDesktop(t *testing.T) {
	h := New(t, nil)
	p := newPage(t, false)
	p.do(chromedp.Navigate(h.URL + "/"))
	p.waitFor("#ipa [data-action=start]")
	p.screenshot("01-start")

	p.click("#ipa [data-action=start]")
	p.waitFor("#ipa .qr img[data-loaded=true]")
	assert.True(t, p.visible("#ipa .qr"), "a desktop shows the QR code")
	assert.False(t, p.visible("#ipa [data-role=open]"), "a desktop shows no phone button")
	assert.Regexp(t, `^Expires in (29:[0-5][0-9]|30:00)$`, p.eval(`document.querySelector('#ipa .countdown').textContent`))
	p.screenshot("02-ipa-qr")
	h.EndSession(p.idFromQR("ipa"), sandbox.IPACompleted)
	p.waitFor(`#ipa[data-status="completed"]`)
	assert.Contains(t, p.eval(`document.querySelector('#ipa .status').textContent`), "now in Microsoft Authenticator")
	p.screenshot("03-ipa-completed")

	p.click("#entra [data-action=start]")
	p.waitFor("#entra .qr img[data-loaded=true]")
	id := p.idFromQR("entra")
	p.screenshot("04-entra-qr")
	require.Equal(t, http.StatusOK, h.Send(id, sandbox.Retrieved()))
	p.waitFor(`#entra[data-status="retrieved"]`)
	assert.Equal(t, "QR code scanned: confirm in Microsoft Authenticator.", p.eval(`document.querySelector('#entra .status').textContent`))
	assert.False(t, p.visible("#entra .qr"), "the scanned QR code is hidden")
	p.screenshot("05-entra-retrieved")
	megan := sandbox.People[0]
	require.Equal(t, http.StatusOK, h.Send(id, sandbox.Verified(sandbox.VerifiedIdentity(USDID, megan.Claims()))))
	p.waitFor(`#entra[data-status="verified"]`)
	claims := p.eval(`document.querySelector('#entra .claims dl').innerText`)
	for _, want := range []string{"First name", "Megan", "Last name", "Bowen", "Date of birth", "1990-04-12"} {
		assert.Contains(t, claims, want)
	}
	p.waitFor(`#entra .portrait:not([hidden])`)
	assert.Equal(t, "240", p.eval(`String(document.querySelector('#entra .portrait').naturalWidth)`), "the portrait decodes as an image")
	p.screenshot("06-entra-verified")

	// A failing presentation shows its reason in plain words, and offers a new request.
	p.do(chromedp.Navigate(h.URL + "/"))
	p.click("#entra [data-action=start]")
	p.waitFor("#entra .qr img[data-loaded=true]")
	revoked := sandbox.VerifiedIdentity(USDID, megan.Claims())
	revoked.RevocationStatus = "REVOKED"
	require.Equal(t, http.StatusOK, h.Send(p.idFromQR("entra"), sandbox.Verified(revoked)))
	p.waitFor(`#entra[data-status="failed"]`)
	assert.Equal(t, "The verification failed. The credential has been revoked.", p.eval(`document.querySelector('#entra .status').textContent`))
	assert.True(t, p.visible("#entra [data-action=restart]"))
	assert.False(t, p.visible("#entra .claims"))
	p.screenshot("07-entra-failed")
	p.noProblems()
}

// TestPagePhone shows buttons instead of QR codes at a 360 px phone viewport, without sideways scrolling.
func TestPagePhone(t *testing.T) {
	h := New(t, nil)
	p := newPage(t, true)
	p.do(chromedp.Navigate(h.URL + "/"))
	p.click("#ipa [data-action=start]")
	p.waitFor(`#ipa [data-role=open][href^="https://ipa.example.com/api/v1/ipa/start?session-id="]`)
	assert.True(t, p.visible("#ipa [data-role=open]"), "a phone shows the start button")
	assert.False(t, p.visible("#ipa .qr"), "a phone shows no QR code")
	p.click("#entra [data-action=start]")
	p.waitFor(`#entra [data-role=open][href^="openid-vc://?request_uri="]`)
	assert.Equal(t, "Open Microsoft Authenticator", p.eval(`document.querySelector('#entra [data-role=open]').textContent`))
	assert.False(t, p.visible("#entra .qr"))
	width, err := strconv.Atoi(p.eval(`String(document.documentElement.scrollWidth)`))
	require.NoError(t, err)
	assert.LessOrEqual(t, width, 360, "no sideways scrolling at 360 px")
	p.screenshot("08-phone")
	p.noProblems()
}

// TestPageSandbox runs the page once against the sandbox binary, with the simulated phone in a second tab.
func TestPageSandbox(t *testing.T) {
	sp := startSandboxBinary(t)
	p := newPage(t, false)
	p.do(chromedp.Navigate(sp.base + "/"))
	assert.Contains(t, p.eval(`document.querySelector('.sandbox-banner').textContent`), "SANDBOX")
	phone, cancel := chromedp.NewContext(p.ctx)
	defer cancel()
	onPhone := func(href, button string) {
		require.NoError(t, chromedp.Do(phone, chromedp.Navigate(href), chromedp.WaitReady(chromedp.CSS(`button[value="`+button+`"]`))))
		_, err := chromedp.Run(phone, chromedp.Evaluate[chromedp.Void](`document.querySelector('button[value="`+button+`"]').click()`))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(phone, chromedp.WaitReady(chromedp.CSS(`.phone a.button, .phone h1`))))
	}

	p.click("#ipa [data-action=start]")
	p.waitFor(`#ipa [data-role=phone]:not([hidden])`)
	onPhone(p.eval(`document.querySelector('#ipa [data-role=phone]').href`), "completed")
	p.waitFor(`#ipa[data-status="completed"]`)

	p.click("#entra [data-action=start]")
	p.waitFor(`#entra [data-role=phone]:not([hidden])`)
	onPhone(p.eval(`document.querySelector('#entra [data-role=phone]').href`), "verified")
	p.waitFor(`#entra[data-status="verified"]`)
	assert.Contains(t, p.eval(`document.querySelector('#entra .claims dl').innerText`), "Megan")
	p.screenshot("09-sandbox-verified")
	p.noProblems()
}
