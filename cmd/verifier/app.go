package main

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
	"github.com/entra-verifier/entra-verifier/result"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	redisstore "github.com/entra-verifier/entra-verifier/store/redis"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
	"github.com/entra-verifier/entra-verifier/wellknown"
)

// application is the wired service: its store, domain services and HTTP server.
type application struct {
	store         store.Store
	ipa           *ipa.Service
	presentations *verifier.Service
	webhook       *result.Webhook
	server        *web.Server
	stop          context.CancelFunc // ends the background workers
	workers       sync.WaitGroup
}

// newApplication wires cfg into an application; outbound is the client for every upstream call.
func newApplication(ctx context.Context, cfg *config.Config, descriptors *wellknown.Descriptors, outbound *http.Client, sb *sandbox.Sandbox) (*application, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	app := &application{store: st, stop: func() {}}
	opts := web.Options{Config: cfg, Store: st, WellKnown: descriptors, Metrics: web.NewMetrics()}
	instrumented := *outbound
	instrumented.Transport = opts.Metrics.Transport(outbound.Transport, upstreamName(cfg))
	outbound = &instrumented
	if opts.Handoff, app.webhook, err = results(cfg, st, outbound); err != nil {
		app.Close()
		return nil, err
	}
	if sb != nil {
		opts.Sandbox = &web.Sandbox{Phone: sb.Phone(), PhoneURL: sandbox.PhoneURL}
	}
	if cfg.Entra.Enabled() {
		tokens, err := verifier.NewTokenSource(cfg.Entra, outbound)
		if err != nil {
			app.Close()
			return nil, err
		}
		secret := []byte(cfg.Entra.CallbackSecret)
		if len(secret) == 0 {
			secret = []byte(rand.Text() + rand.Text()) // one process, one key: fine for the memory store
		}
		client := &verifier.Client{BaseURL: cfg.Entra.RequestServiceURL, HTTP: outbound, Tokens: tokens}
		creator := verifier.LinkedDomain{Next: client, Validate: cfg.Entra.ValidateLinkedDomain}
		app.presentations = verifier.NewService(cfg, creator, st, secret)
		app.presentations.ClaimsRetention = cfg.ClaimsRetention
		opts.Presentations = app.presentations
		if app.webhook != nil {
			claims := result.ParseClaims(cfg.Result.Claims)
			app.presentations.FinalEvent = func(ctx context.Context, p *store.Presentation) *store.Delivery {
				return app.event(ctx, result.PresentationEvent(p, claims, time.Now()))
			}
		}
	}
	if cfg.IPA.Enabled() {
		client, err := ipa.New(ipa.Config{
			CognitoURL: cfg.IPA.CognitoURL, ClientID: cfg.IPA.ClientID, ClientSecret: cfg.IPA.ClientSecret,
			CreateSessionURL: cfg.IPA.CreateSessionURL, ApplicationID: cfg.IPA.ApplicationID,
			IDVURL: cfg.IPA.IDVURL, GIPSAPIKey: cfg.IPA.GIPSAPIKey, HTTPClient: outbound,
		})
		if err != nil {
			app.Close()
			return nil, err
		}
		app.ipa = ipa.NewService(client, st, cfg.PublicURL.String(), cfg.IPA.StartURL)
		opts.Sessions, opts.IdentityRetrieval = app.ipa, client.RetrievalEnabled()
		if app.webhook != nil && cfg.Result.WebhookIPA {
			app.ipa.EndEvent = func(ctx context.Context, s *store.IPASession) *store.Delivery {
				return app.event(ctx, result.SessionEvent(s, time.Now()))
			}
		}
	}
	if app.server, err = web.New(opts); err != nil {
		app.Close()
		return nil, err
	}
	if app.webhook != nil {
		var workers context.Context
		workers, app.stop = context.WithCancel(context.WithoutCancel(ctx))
		app.workers.Go(func() { app.webhook.Run(workers) })
	}
	return app, nil
}

// event turns a result event into the delivery stored with its transition; nil (logged) when it cannot be
// encoded: the journey itself goes on.
func (a *application) event(ctx context.Context, ev result.Event) *store.Delivery {
	d, err := a.webhook.Delivery(ev)
	if err != nil {
		slog.ErrorContext(ctx, "result event not queued", "type", ev.Type, "err", err)
		return nil
	}
	return d
}

// Close stops the background workers and releases the application's resources.
func (a *application) Close() {
	a.stop()
	a.workers.Wait()
	if a.ipa != nil {
		a.ipa.Close()
	}
	_ = a.store.Close()
}

func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store {
	case "memory":
		return memory.New(memory.Options{}), nil
	case "redis":
		return redisstore.Open(ctx, cfg.RedisURL, redisstore.Options{Prefix: cfg.RedisPrefix})
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
func results(cfg *config.Config, st store.Store, outbound *http.Client) (*web.Handoff, *result.Webhook, error) {
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
		handoff = &web.Handoff{Allowlist: allow, Signer: signer, Claims: result.ParseClaims(cfg.Result.Claims)}
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
