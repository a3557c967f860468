package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// screenshotDir is where the browser tests leave their screenshots (kept out of git).
const screenshotDir = "../artifacts/screenshots"

const phoneUA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"

// page is one headless Chromium tab, recording every console error, exception and browser-reported
// problem (CSP violations, failed loads) for the test to assert on.
type page struct {
	t        *testing.T
	ctx      context.Context
	vp       viewport
	mu       sync.Mutex
	problems []string
}

// chromium finds Debian's chromium; .ci/run installs it. A missing browser fails the test: it never skips.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install Debian's chromium package (.ci/run does)")
	return ""
}

// browser is the one headless Chromium of the test binary; each page gets a browser context of its own
// (own cookies, storage and cache), so tests stay apart without paying for a browser each.
var browser struct {
	once   sync.Once
	ctx    context.Context
	err    error
	cancel func()
}

// sharedBrowser starts the test binary's Chromium on first use; TestMain closes it.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	browser.once.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-chromium-")
		if err != nil {
			browser.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
			chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 900))
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		browser.ctx, browser.cancel = ctx, func() { cancelCtx(); cancelAlloc(); _ = os.RemoveAll(dir) }
		browser.err = chromedp.Do(ctx) // starts the browser
	})
	require.NoError(t, browser.err, "start Chromium")
	return browser.ctx
}

// closeBrowser ends the shared Chromium, if one was started.
func closeBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
}

// viewport is the window a page is seen through.
type viewport struct {
	name          string
	width, height int64
	phone         bool
}

var (
	desktop = viewport{name: "desktop", width: 1280, height: 900}
	phone   = viewport{name: "phone", width: 390, height: 844, phone: true}
)

func newPage(t *testing.T, isPhone bool) *page {
	t.Helper()
	vp := desktop
	if isPhone {
		vp = viewport{name: "phone", width: 360, height: 740, phone: true}
	}
	return openPage(t, vp, "")
}

// openPage opens a tab in a fresh browser context seen through vp, its Accept-Language acceptLanguage
// ("" for Chromium's own).
func openPage(t *testing.T, vp viewport, acceptLanguage string) *page {
	t.Helper()
	tab, cancelTab := chromedp.NewContext(sharedBrowser(t), chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(tab, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelTab() })
	p := &page{t: t, ctx: ctx, vp: vp}
	t.Cleanup(func() { // leave evidence of a failure beside the other screenshots
		if t.Failed() {
			shot, shotCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer shotCancel()
			if buf, err := chromedp.Run(shot, chromedp.FullScreenshot(100)); err == nil {
				_ = os.MkdirAll(screenshotDir, 0o755)
				_ = os.WriteFile(filepath.Join(screenshotDir, "FAILED-"+strings.ReplaceAll(t.Name(), "/", "-")+".png"), buf, 0o644)
			}
			p.mu.Lock()
			t.Logf("browser problems: %q", p.problems)
			p.mu.Unlock()
		}
	})

	logs := chromedp.Events(ctx, cdplog.EntryAdded)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
		return err
	})))
	go func() {
		for ev, err := range logs {
			if err != nil {
				return
			}
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				p.problem(fmt.Sprintf("log %s/%s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				p.problem(fmt.Sprintf("console.%s", ev.Type))
			}
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			p.problem("exception: " + ev.ExceptionDetails.Text)
		}
	}()
	ua := ""
	if vp.phone {
		ua = phoneUA
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if ua != "" || acceptLanguage != "" {
			if ua == "" {
				v, err := cdp.Call(ctx, tg, browserVersion, cdp.Empty{})
				if err != nil {
					return err
				}
				ua = strings.ReplaceAll(v.UserAgent, "HeadlessChrome", "Chrome")
			}
			if _, err := cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: acceptLanguage}); err != nil {
				return err
			}
		}
		scale := 1.0
		if vp.phone {
			scale = 2
		}
		if _, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: vp.width, Height: vp.height, DeviceScaleFactor: scale, Mobile: vp.phone}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: vp.phone})
		return err
	})))
	return p
}

// browserVersion reads the browser's user agent, to override only its Accept-Language.
var browserVersion = cdpbrowser.GetVersion

func (p *page) problem(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, s)
}

// noProblems asserts the page logged no error, exception or CSP violation, but for those containing one
// of expected (e.g. the status of a page answered 400 on purpose).
func (p *page) noProblems(expected ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var left []string
	for _, pr := range p.problems {
		if !slices.ContainsFunc(expected, func(e string) bool { return strings.Contains(pr, e) }) {
			left = append(left, pr)
		}
	}
	assert.Empty(p.t, left, "console errors, exceptions or CSP violations")
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	require.NoError(p.t, chromedp.Do(p.ctx, actions...))
}

func (p *page) eval(js string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	require.NoError(p.t, err, js)
	return v
}

// waitFor waits until the CSS selector matches an element.
func (p *page) waitFor(sel string) {
	p.t.Helper()
	p.do(chromedp.WaitReady(chromedp.CSS(sel)))
}

// click waits for the element, then clicks it the way a person's click reaches it (a DOM click event).
func (p *page) click(sel string) {
	p.t.Helper()
	p.waitFor(sel)
	p.eval(`(() => { document.querySelector('` + sel + `').click(); return ''; })()`)
}

// screenshot saves the whole page as artifacts/screenshots/<name>.png.
func (p *page) screenshot(name string) {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	require.NoError(p.t, err)
	require.NoError(p.t, os.MkdirAll(screenshotDir, 0o755))
	require.NoError(p.t, os.WriteFile(filepath.Join(screenshotDir, name+".png"), buf, 0o644))
}

// idFromQR reads the session or request id from the QR image's URL.
func (p *page) idFromQR(step string) string {
	src := p.eval(`document.querySelector('#` + step + ` .qr img').getAttribute('src')`)
	parts := strings.Split(src, "/")
	require.GreaterOrEqual(p.t, len(parts), 2, src)
	return parts[len(parts)-2]
}

func (p *page) visible(sel string) bool {
	return p.eval(`(() => { const e = document.querySelector('`+sel+`'); return e && e.offsetParent !== null ? 'yes' : 'no'; })()`) == "yes"
}
