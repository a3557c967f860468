// Package app wires a configuration into the running service: its store, the two domain services with their
// clients, the result hand-off and the HTTP server. cmd/verifier runs it; the end-to-end tests build it in
// process.
package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/journey"
	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	redisstore "github.com/entra-verifier/entra-verifier/store/redis"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
	"github.com/entra-verifier/entra-verifier/wellknown"
)

// App is the wired service: its store, domain services and HTTP server.
type App struct {
	Store         store.Store
	IPA           *ipa.Service
	Presentations *verifier.Service
	Journeys      *journey.Service
	Webhook       *result.Webhook
	Server        *web.Server
	stop          context.CancelFunc // ends the background workers
	workers       sync.WaitGroup
}

// New wires cfg into an App; outbound is the client for every upstream call; sb, when set, is the sandbox
// whose simulated phone the server mounts.
func New(ctx context.Context, cfg *config.Config, descriptors *wellknown.Descriptors, outbound *http.Client, sb *sandbox.Sandbox) (*App, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &App{Store: st, stop: func() {}}
	if err := a.wire(cfg, descriptors, outbound, sb); err != nil {
		a.Close()
		return nil, err
	}
	if a.Webhook != nil {
		var workers context.Context
		workers, a.stop = context.WithCancel(context.WithoutCancel(ctx))
		a.workers.Go(func() { a.Webhook.Run(workers) })
	}
	return a, nil
}

// wire builds the services and the server around a's store.
func (a *App) wire(cfg *config.Config, descriptors *wellknown.Descriptors, outbound *http.Client, sb *sandbox.Sandbox) error {
	opts := web.Options{Config: cfg, Store: a.Store, WellKnown: descriptors, Metrics: web.NewMetrics()}
	instrumented := *outbound
	instrumented.Transport = opts.Metrics.Transport(outbound.Transport, upstreamName(cfg))
	outbound = &instrumented
	var err error
	claims := result.ParseClaims(cfg.Result.Claims) // VERIFIER_RESULT_CLAIMS, for events, tokens and journeys
	if opts.Handoff, a.Webhook, err = results(cfg, claims, a.Store, outbound); err != nil {
		return err
	}
	if sb != nil {
		opts.Sandbox = &web.Sandbox{Phone: sb.Phone(), PhoneURL: sandbox.PhoneURL}
	}
	var events *result.Events
	if a.Webhook != nil {
		events = &result.Events{Webhook: a.Webhook, Claims: claims}
	}
	if cfg.Entra.Enabled() {
		client, err := verifier.NewClient(cfg.Entra, outbound)
		if err != nil {
			return err
		}
		secret := []byte(cfg.Entra.CallbackSecret)
		if len(secret) == 0 {
			secret = []byte(rand.Text() + rand.Text()) // one process, one key: fine for the memory store
		}
		o := verifier.Options{Config: cfg, Creator: client, Store: a.Store, Secret: secret}
		if events != nil {
			o.Events = events
		}
		a.Presentations = verifier.NewService(o)
		opts.Presentations = a.Presentations
	}
	var idemia *ipa.Client
	if cfg.IPA.Enabled() {
		client, err := ipa.NewClient(cfg.IPA, outbound)
		if err != nil {
			return err
		}
		o := ipa.Options{Config: cfg, IDEMIA: client, Store: a.Store, AllSessionEvents: cfg.Result.WebhookIPA}
		if events != nil { // a journey's sessions always have events
			o.Events = events
		}
		a.IPA = ipa.NewService(o)
		opts.Sessions, opts.IdentityRetrieval = a.IPA, client.RetrievalEnabled()
		idemia = client
	}
	if len(cfg.APIKeys) > 0 {
		o := journey.Options{Config: cfg, Store: a.Store, Claims: claims}
		if a.Presentations != nil {
			o.Presentations = a.Presentations
		}
		if a.IPA != nil {
			o.Sessions, o.IDEMIA = a.IPA, idemia
		}
		if events != nil {
			o.Events = events
		}
		a.Journeys = journey.NewService(o)
		opts.Journeys = a.Journeys
	}
	if a.Webhook != nil {
		a.Webhook.Timers = a.fire
	}
	a.Server, err = web.New(opts)
	return err
}

// fire applies a due timer: the expiry events of requests, sessions and journeys.
func (a *App) fire(ctx context.Context, t *store.Timer) error {
	switch {
	case t.Kind == store.TimerPresentation && a.Presentations != nil:
		return a.Presentations.Expire(ctx, t.ID)
	case t.Kind == store.TimerIPA && a.IPA != nil:
		return a.IPA.Expire(ctx, t.ID)
	case t.Kind == store.TimerJourney && a.Journeys != nil:
		return a.Journeys.Expire(ctx, t.ID)
	}
	return nil
}

// Close stops the background workers and releases the application's resources.
func (a *App) Close() {
	a.stop()
	a.workers.Wait()
	if a.IPA != nil {
		a.IPA.Close()
	}
	_ = a.Store.Close()
}

func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store {
	case "memory":
		return memory.New(memory.Options{}), nil
	case "redis":
		return redisstore.Open(ctx, cfg.RedisURL, redisstore.Options{Mode: redisstore.Mode(cfg.RedisMode), Prefix: cfg.RedisPrefix})
	default:
		return nil, fmt.Errorf("VERIFIER_STORE=%s is not supported by this build", cfg.Store)
	}
}

// upstreamName names the service a call goes to, for the upstream metrics.
func upstreamName(cfg *config.Config) func(*http.Request) string {
	hostOf := func(raw string) string {
		if !strings.Contains(raw, "://") { // IDV_URL may be a bare host
			raw = "https://" + raw
		}
		if u, err := url.Parse(raw); err == nil {
			return strings.ToLower(u.Host)
		}
		return ""
	}
	names := map[string]string{}
	for _, s := range []struct{ url, name string }{ // the first service named for a host keeps it
		{cfg.Entra.AuthorityHost, "entra_identity"}, {cfg.Entra.RequestServiceURL, "entra_request_service"},
		{cfg.IPA.CognitoURL, "idemia_cognito"}, {cfg.IPA.CreateSessionURL, "idemia_ipa"},
		{cfg.IPA.IDVURL, "idemia_idv"}, {cfg.Result.WebhookURL, "result_webhook"},
	} {
		if h := hostOf(s.url); h != "" && s.url != "" {
			if _, taken := names[h]; !taken {
				names[h] = s.name
			}
		}
	}
	return func(r *http.Request) string {
		if name, ok := names[strings.ToLower(r.URL.Host)]; ok {
			return name
		}
		return "other"
	}
}

// results wires the hand-off of results to the relying party: the return-URL allow-list with its token
// signer, and the webhook. Either is nil when not configured.
func results(cfg *config.Config, claims result.Claims, st store.Store, outbound *http.Client) (*web.Handoff, *result.Webhook, error) {
	var handoff *web.Handoff
	if cfg.Result.ReturnURLAllowlist != "" {
		allow, err := result.ParseAllowlist(cfg.Result.ReturnURLAllowlist)
		if err != nil {
			return nil, nil, err
		}
		signer, err := result.NewSigner(cfg.Result.SigningKey)
		if err != nil {
			return nil, nil, err
		}
		if signer.Ephemeral {
			slog.Warn("result tokens are signed with an ephemeral key generated at start: set VERIFIER_RESULT_SIGNING_KEY to keep it across restarts")
		}
		handoff = &web.Handoff{Allowlist: allow, Signer: signer, Claims: claims}
	}
	if cfg.Result.WebhookURL == "" {
		return handoff, nil, nil
	}
	secret, err := result.WebhookSecret(cfg.Result.WebhookSecret)
	if err != nil {
		return nil, nil, err
	}
	hc := *outbound
	hc.Timeout = 10 * time.Second
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse } // a 3xx is a failed attempt
	return handoff, &result.Webhook{URL: cfg.Result.WebhookURL, Secret: secret, HTTP: &hc, Outbox: st}, nil
}
