package sandbox

import (
	"embed"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
)

//go:embed phone/*.html phone/phone.css phone/favicon.svg
var phoneFiles embed.FS

// personCookie remembers, in the simulated phone's browser, the person chosen in the identity check, so the
// simulated Authenticator offers that person's credential first.
const personCookie = "sandbox_person"

var phoneTemplates = template.Must(template.ParseFS(phoneFiles, "phone/*.html"))

// Outcomes the simulated phone offers for a presentation, with what the Request Service then sends.
var presentationOutcomes = []struct{ ID, Label string }{
	{"verified", "Share my verified identity"},
	{"revoked", "Share a revoked credential"},
	{"wrong_issuer", "Share a credential from an unknown issuer"},
	{"face_check_failed", "Share, but my face does not match the portrait"},
	{"declined", "Decline"},
}

// Outcomes the simulated phone offers at the end of IPA.
var ipaOutcomes = []struct {
	ID, Label string
	Outcome   IPAOutcome
}{
	{"completed", "Complete the identity check (documents and selfie pass)", IPACompleted},
	{"error", "Fail: the application errs or I abort (ERROR)", IPAError},
	{"dropped", "Drop off without finishing (HEARTBEAT_TIMEOUT)", IPAHeartbeatTimeout},
}

// Phone serves the sandbox's pages under /sandbox/: the simulated phone — the IPA start page
// (IPA_START_URL in sandbox mode) and the page Authenticator would show for an openid-vc:// request, each
// choice making the simulators send the callbacks the real services would — and the relying-party console
// (/sandbox/console), which plays the relying party's backend.
func (s *Sandbox) Phone() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sandbox/ipa/start", s.ipaStart)
	mux.HandleFunc("POST /sandbox/ipa/finish", s.ipaFinish)
	mux.HandleFunc("GET /sandbox/phone", s.presentPage)
	mux.HandleFunc("POST /sandbox/phone/present", s.present)
	mux.HandleFunc("GET /sandbox/people/{file}", s.portrait)
	if s.Console != nil {
		s.Console.routes(mux)
	}
	mux.HandleFunc("GET /sandbox/phone.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		http.ServeFileFS(w, r, phoneFiles, "phone/phone.css")
	})
	mux.HandleFunc("GET /sandbox/favicon.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		http.ServeFileFS(w, r, phoneFiles, "phone/favicon.svg")
	})
	return mux
}

// PhoneURL returns the simulated phone's page for an openid-vc:// request URL, or "" for another URL.
func PhoneURL(openidURL string) string {
	u, err := url.Parse(openidURL)
	if err != nil || u.Scheme != "openid-vc" || u.Query().Get("request_uri") == "" {
		return ""
	}
	return "/sandbox/phone?request_uri=" + url.QueryEscape(u.Query().Get("request_uri"))
}

type phonePage struct {
	Title, Heading, Message string
	Hidden                  map[string]string
	Action                  string
	People                  []Person
	Outcomes                any
	Selected                string // the person checked first
	Next                    string
	Failed                  bool
}

func (s *Sandbox) render(w http.ResponseWriter, status int, p phonePage) {
	if p.Selected == "" {
		p.Selected = People[0].ID
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := phoneTemplates.ExecuteTemplate(w, "phone.html", p); err != nil {
		slog.Error("sandbox phone page", "err", err)
	}
}

func (s *Sandbox) ipaStart(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("session-id")
	if _, ok := s.IPA.Session(id); !ok {
		s.render(w, http.StatusNotFound, phonePage{Title: "Unknown session", Heading: "This IPA session does not exist", Failed: true,
			Message: "Start again from the verifier's page."})
		return
	}
	s.render(w, http.StatusOK, phonePage{Title: "IDEMIA Identity Proofing", Heading: "IDEMIA identity check",
		Message: "Who are you, and how should the identity check end?", Action: "/sandbox/ipa/finish",
		Hidden: map[string]string{"session-id": id}, People: People, Outcomes: ipaOutcomes})
}

func (s *Sandbox) ipaFinish(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("session-id")
	session, ok := s.IPA.Session(id)
	choice := r.PostFormValue("outcome")
	var outcome *IPAOutcome
	for _, o := range ipaOutcomes {
		if o.ID == choice {
			outcome = &o.Outcome
		}
	}
	if !ok || outcome == nil {
		s.render(w, http.StatusBadRequest, phonePage{Title: "Not sent", Heading: "Nothing was sent", Failed: true, Message: "Unknown session or choice."})
		return
	}
	status, err := s.IPA.DeliverCallback(r.Context(), id, *outcome)
	msg := "IDEMIA notified the verifier (it answered " + http.StatusText(status) + ")."
	if *outcome == IPACompleted {
		person := PersonByID(r.PostFormValue("person"))
		msg += " " + person.FirstName + "'s VerifiedIdentity credential is now in the simulated Authenticator."
		http.SetCookie(w, &http.Cookie{Name: personCookie, Value: person.ID, Path: "/sandbox/", HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	}
	if err != nil {
		msg = "The verifier could not be notified: " + err.Error()
	}
	s.render(w, http.StatusOK, phonePage{Title: "Identity check finished", Heading: "Identity check finished", Message: msg,
		Next: session.GotoURL, Failed: err != nil})
}

func (s *Sandbox) presentPage(w http.ResponseWriter, r *http.Request) {
	id, ok := s.requestID(r.URL.Query().Get("request_uri"))
	if !ok {
		s.render(w, http.StatusNotFound, phonePage{Title: "Unknown request", Heading: "This presentation request does not exist", Failed: true,
			Message: "Start again from the verifier's page."})
		return
	}
	// Opening the request is what the wallet's fetch of request_uri is: the service says request_retrieved once.
	s.mu.Lock()
	first := !s.retrieved[id]
	s.retrieved[id] = true
	s.mu.Unlock()
	if first {
		if _, err := s.Requests.SendCallback(r.Context(), id, Retrieved()); err != nil {
			slog.Warn("sandbox: request_retrieved callback failed", "err", err)
		}
	}
	s.render(w, http.StatusOK, phonePage{Title: "Microsoft Authenticator", Heading: "Share your verified identity?",
		Message: "entra-verifier SANDBOX asks for your VerifiedIdentity credential.", Action: "/sandbox/phone/present",
		Hidden: map[string]string{"request": id}, People: People, Outcomes: presentationOutcomes, Selected: chosenPerson(r)})
}

func (s *Sandbox) present(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("request")
	if _, ok := s.Requests.Request(id); !ok {
		s.render(w, http.StatusBadRequest, phonePage{Title: "Not sent", Heading: "Nothing was sent", Failed: true, Message: "Unknown request."})
		return
	}
	cred := VerifiedIdentity(s.opts.IssuerDID, PersonByID(r.PostFormValue("person")).Claims())
	score := 91.5
	cred.FaceCheckScore = &score
	var event map[string]any
	switch r.PostFormValue("outcome") {
	case "verified":
		event = Verified(cred)
	case "revoked":
		cred.RevocationStatus = "REVOKED"
		event = Verified(cred)
	case "wrong_issuer":
		cred.Issuer = "did:web:unknown-issuer.example"
		event = Verified(cred)
	case "face_check_failed":
		low := 42.0
		cred.FaceCheckScore = &low
		event = Verified(cred)
	case "declined":
		event = PresentationError("userDeclined", "The user declined to share the credential.")
	default:
		s.render(w, http.StatusBadRequest, phonePage{Title: "Not sent", Heading: "Nothing was sent", Failed: true, Message: "Unknown choice."})
		return
	}
	status, err := s.Requests.SendCallback(r.Context(), id, event)
	msg := "Microsoft's Request Service called the verifier back (it answered " + http.StatusText(status) + "). Look at the verifier's page."
	if err != nil {
		msg = "The verifier could not be called back: " + err.Error()
	}
	s.render(w, http.StatusOK, phonePage{Title: "Sent", Heading: "Done", Message: msg, Failed: err != nil})
}

// chosenPerson is the person this browser chose in its last completed identity check, or "" for none.
func chosenPerson(r *http.Request) string {
	if c, err := r.Cookie(personCookie); err == nil && PersonByID(c.Value).ID == c.Value {
		return c.Value
	}
	return ""
}

// requestID extracts the presentation request id from a request_uri the Request Service fake issued.
func (s *Sandbox) requestID(requestURI string) (string, bool) {
	u, err := url.Parse(requestURI)
	if err != nil {
		return "", false
	}
	id := path.Base(u.Path)
	_, ok := s.Requests.Request(id)
	return id, ok
}

func (s *Sandbox) portrait(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".jpg")
	p := PersonByID(id)
	if !ok || p.ID != id {
		http.NotFound(w, r)
		return
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Portrait())
	if err != nil {
		http.Error(w, "bad portrait", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
