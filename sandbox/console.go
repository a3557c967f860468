package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// The relying-party console (SPEC section 6): the sandbox plays the relying party's backend, so the
// hand-off can be seen without writing one. It starts backend journeys over the verifier's own
// /api/backend/ routes with a sandbox API key, shows their launch links, and receives the signed result
// events at its own webhook, checking each signature as Standard Webhooks says.

//go:embed console/*.html console/console.css
var consoleFiles embed.FS

var consoleTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"time": func(t time.Time) string { return t.UTC().Format("15:04:05") },
}).ParseFS(consoleFiles, "console/*.html"))

// Console paths, under the sandbox's /sandbox/.
const (
	ConsolePath        = "/sandbox/console"
	ConsoleWebhookPath = ConsolePath + "/webhook"
	consoleKeyName     = "sandbox-console"
	// webhookTolerance is how far a webhook-timestamp may be from now (Standard Webhooks suggests 5 minutes).
	webhookTolerance = 5 * time.Minute
	consoleMaxKept   = 200
)

// Console is the simulated relying-party backend.
type Console struct {
	base   string // the verifier's public URL
	key    string // the sandbox API key (VERIFIER_API_KEYS)
	secret []byte // the webhook's HMAC key (VERIFIER_RESULT_WEBHOOK_SECRET)
	http   *http.Client

	mu       sync.Mutex
	journeys []*consoleJourney // newest first
	events   []*ConsoleEvent   // newest first
}

type consoleJourney struct {
	ID, Reference, LaunchURL, ExpiresAt string
	Created                             time.Time
}

// ConsoleEvent is one result event the console's webhook received.
type ConsoleEvent struct {
	WebhookID, Type, JourneyID, Reference string
	Received                              time.Time
	// Valid says the signature checked out; Problem says why not.
	Valid   bool
	Problem string
	// Copies counts the deliveries of one webhook-id (a retried delivery is the same event).
	Copies int
	JSON   string
}

func newConsole(base string) *Console {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return &Console{base: base, key: "sbx_" + rand.Text() + rand.Text(), secret: secret,
		http: &http.Client{Timeout: 15 * time.Second}}
}

// settings are what point the verifier's backend routes and webhook at the console.
func (c *Console) settings() map[string]string {
	return map[string]string{
		"VERIFIER_API_KEYS":              consoleKeyName + ":" + c.key,
		"VERIFIER_RESULT_WEBHOOK_URL":    c.base + ConsoleWebhookPath,
		"VERIFIER_RESULT_WEBHOOK_SECRET": "whsec_" + base64.StdEncoding.EncodeToString(c.secret),
	}
}

// Events returns the events received, newest first.
func (c *Console) Events() []ConsoleEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ConsoleEvent, len(c.events))
	for i, e := range c.events {
		out[i] = *e
	}
	return out
}

func (c *Console) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+ConsolePath, c.index)
	mux.HandleFunc("POST "+ConsolePath+"/journeys", c.create)
	mux.HandleFunc("GET "+ConsolePath+"/journeys/{id}", c.journey)
	mux.HandleFunc("GET "+ConsolePath+"/journeys/{id}/qr.png", c.qr)
	mux.HandleFunc("GET "+ConsolePath+"/journeys/{id}/identity", c.download("identity"))
	mux.HandleFunc("GET "+ConsolePath+"/journeys/{id}/proof", c.download("proof"))
	mux.HandleFunc("POST "+ConsoleWebhookPath, c.webhook)
	mux.HandleFunc("GET /sandbox/console.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		http.ServeFileFS(w, r, consoleFiles, "console/console.css")
	})
}

type consolePage struct {
	Title    string
	Error    string
	Form     url.Values
	People   []Person
	Journeys []*consoleJourney
	Events   []ConsoleEvent
	// The journey page.
	Journey    *consoleJourney
	Status     string // the journey's status
	StatusJSON string
	Refresh    bool // reload every few seconds while the journey may still change
	IPADone    bool // identity and proof may be downloaded
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p consolePage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := consoleTemplates.ExecuteTemplate(w, name, p); err != nil {
		slog.Error("sandbox console page", "err", err)
	}
}

func (c *Console) index(w http.ResponseWriter, _ *http.Request) {
	c.render(w, http.StatusOK, "console.html", c.indexPage(url.Values{"reference": {"case-" + strconv.Itoa(int(time.Now().Unix()%100000))}}, ""))
}

func (c *Console) indexPage(form url.Values, problem string) consolePage {
	c.mu.Lock()
	journeys := append([]*consoleJourney(nil), c.journeys...)
	c.mu.Unlock()
	return consolePage{Title: "Relying-party console", Form: form, Error: problem, People: People, Journeys: journeys, Events: c.Events()}
}

// create starts a backend journey from the form, as a relying party's backend would.
func (c *Console) create(w http.ResponseWriter, r *http.Request) {
	// A form of another site may not start journeys. (The pages' Referrer-Policy: no-referrer makes a
	// browser send "Origin: null" with the console's own form; Sec-Fetch-Site still says same-origin.)
	if o := r.Header.Get("Origin"); o != "" && o != "null" && strings.TrimSuffix(o, "/") != origin(c.base) || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		http.Error(w, "SANDBOX: cross-site form refused", http.StatusForbidden)
		return
	}
	_ = r.ParseForm()
	body := map[string]any{"reference": r.PostFormValue("reference")}
	switch r.PostFormValue("steps") {
	case "ipa":
		body["steps"] = []string{"ipa"}
	case "presentation":
		body["steps"] = []string{"presentation"}
	}
	expected := map[string]string{}
	for _, name := range []string{"firstName", "lastName"} {
		if v := strings.TrimSpace(r.PostFormValue(name)); v != "" {
			expected[name] = v
		}
	}
	if len(expected) > 0 {
		body["expectedClaims"] = expected
	}
	if l := r.PostFormValue("locale"); l != "" {
		body["locale"] = l
	}
	var created struct{ JourneyID, LaunchURL, ExpiresAt string }
	status, raw, err := c.call(r, http.MethodPost, "/api/backend/journeys", body)
	if err == nil && status == http.StatusCreated {
		err = json.Unmarshal(raw, &created)
	} else if err == nil {
		err = fmt.Errorf("the verifier answered %d: %s", status, errorMessage(raw))
	}
	if err != nil {
		c.render(w, http.StatusBadRequest, "console.html", c.indexPage(r.PostForm, err.Error()))
		return
	}
	c.mu.Lock()
	c.journeys = append([]*consoleJourney{{ID: created.JourneyID, Reference: r.PostFormValue("reference"),
		LaunchURL: created.LaunchURL, ExpiresAt: created.ExpiresAt, Created: time.Now()}}, c.journeys...)
	c.journeys = c.journeys[:min(len(c.journeys), consoleMaxKept)]
	c.mu.Unlock()
	http.Redirect(w, r, ConsolePath+"/journeys/"+url.PathEscape(created.JourneyID), http.StatusSeeOther)
}

func (c *Console) find(id string) *consoleJourney {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, j := range c.journeys {
		if j.ID == id {
			return j
		}
	}
	return nil
}

// journey shows one journey: its launch link and QR, its status read now, its events.
func (c *Console) journey(w http.ResponseWriter, r *http.Request) {
	j := c.find(r.PathValue("id"))
	if j == nil {
		c.render(w, http.StatusNotFound, "console.html", c.indexPage(nil, "No journey of this console has that id."))
		return
	}
	p := consolePage{Title: "Journey " + j.Reference, Journey: j}
	status, raw, err := c.call(r, http.MethodGet, "/api/backend/journeys/"+url.PathEscape(j.ID), nil)
	switch {
	case err != nil:
		p.Error = err.Error()
	case status != http.StatusOK:
		p.Error = fmt.Sprintf("the verifier answered %d: %s", status, errorMessage(raw))
	default:
		var st struct {
			Status string
			IPA    *struct{ Status string }
		}
		_ = json.Unmarshal(raw, &st)
		p.Status, p.StatusJSON = st.Status, indent(raw)
		p.IPADone = st.IPA != nil && st.IPA.Status == "completed"
		p.Refresh = st.Status == "pending" || st.Status == "in_progress"
	}
	for _, e := range c.Events() {
		if e.JourneyID == j.ID {
			p.Events = append(p.Events, e)
		}
	}
	c.render(w, http.StatusOK, "journey.html", p)
}

func (c *Console) qr(w http.ResponseWriter, r *http.Request) {
	j := c.find(r.PathValue("id"))
	if j == nil {
		http.NotFound(w, r)
		return
	}
	png, err := qrcode.Encode(j.LaunchURL, qrcode.Medium, 256)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(png)
}

// download passes the journey's identity payload or proof archive through as an attachment.
func (c *Console) download(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		j := c.find(r.PathValue("id"))
		if j == nil {
			http.NotFound(w, r)
			return
		}
		req, err := c.request(r, http.MethodGet, "/api/backend/journeys/"+url.PathEscape(j.ID)+"/"+what, nil)
		var resp *http.Response
		if err == nil {
			resp, err = c.http.Do(req)
		}
		if err != nil {
			c.render(w, http.StatusBadGateway, "journey.html", consolePage{Title: "Journey " + j.Reference, Journey: j, Error: err.Error()})
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			c.render(w, resp.StatusCode, "journey.html", consolePage{Title: "Journey " + j.Reference, Journey: j,
				Error: fmt.Sprintf("%s: the verifier answered %d: %s", what, resp.StatusCode, errorMessage(raw))})
			return
		}
		name := what + "-" + j.ID + ".json"
		if what == "proof" {
			name = what + "-" + j.ID + ".zip"
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = io.Copy(w, resp.Body)
	}
}

// webhook receives a result event and checks its signature (Standard Webhooks): 204 when it holds, 401
// otherwise; either way the event is listed, with the check's outcome.
func (c *Console) webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	id := r.Header.Get("webhook-id")
	problem := VerifyWebhook(c.secret, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, time.Now())
	var ev struct {
		Type string
		Data struct{ JourneyID, Reference string }
	}
	_ = json.Unmarshal(body, &ev)
	e := &ConsoleEvent{WebhookID: id, Type: ev.Type, JourneyID: ev.Data.JourneyID, Reference: ev.Data.Reference, Received: time.Now(),
		Valid: problem == nil, Copies: 1, JSON: indent(body)}
	if problem != nil {
		e.Problem = problem.Error()
	}
	c.mu.Lock()
	repeat := false
	for _, old := range c.events {
		if old.Valid && e.Valid && old.WebhookID == id {
			old.Copies++ // a retried delivery: the same event (Standard Webhooks: deduplicate by webhook-id)
			repeat = true
		}
	}
	if !repeat {
		c.events = append([]*ConsoleEvent{e}, c.events...)
		c.events = c.events[:min(len(c.events), consoleMaxKept)]
	}
	c.mu.Unlock()
	if problem != nil {
		http.Error(w, "signature: "+problem.Error(), http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// VerifyWebhook checks a Standard Webhooks signature: signature holds space-separated "v1,<base64>"
// entries, one of which must equal base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body)), and the
// timestamp (Unix seconds) must be within 5 minutes of now. It returns why not, or nil.
func VerifyWebhook(secret []byte, id, timestamp, signature string, body []byte, now time.Time) error {
	if id == "" || timestamp == "" || signature == "" {
		return errors.New("webhook-id, webhook-timestamp or webhook-signature missing")
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not Unix seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > webhookTolerance || d < -webhookTolerance {
		return errors.New("webhook-timestamp is more than 5 minutes away")
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, sig := range strings.Fields(signature) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	}
	return errors.New("no v1 signature matches")
}

// request builds a call of the verifier's backend API with the console's key.
func (c *Console) request(r *http.Request, method, path string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// call makes a backend API call and reads its answer (at most 1 MiB).
func (c *Console) call(r *http.Request, method, path string, body any) (int, []byte, error) {
	req, err := c.request(r, method, path, body)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("the verifier's backend API did not answer: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, raw, err
}

// errorMessage is the message of our error envelope, or the answer itself.
func errorMessage(raw []byte) string {
	var e struct {
		Error struct{ Code, Message string }
	}
	if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
		return e.Error.Code + ": " + e.Error.Message
	}
	return strings.TrimSpace(string(raw))
}

func indent(raw []byte) string {
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// origin is the scheme://host of a base URL.
func origin(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Scheme + "://" + u.Host
}
