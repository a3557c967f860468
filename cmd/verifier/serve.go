package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/ipa"
	"github.com/entra-verifier/entra-verifier/logging"
	"github.com/entra-verifier/entra-verifier/sandbox"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	redisstore "github.com/entra-verifier/entra-verifier/store/redis"
	"github.com/entra-verifier/entra-verifier/verifier"
	"github.com/entra-verifier/entra-verifier/web"
	"github.com/entra-verifier/entra-verifier/wellknown"
)

// serve wires configuration, store, clients and server, and runs until ctx ends, then drains. With
// sandboxMode (or VERIFIER_SANDBOX=true) it first starts the simulators and points the configuration at them.
func serve(ctx context.Context, getenv config.Getenv, sandboxMode bool, logOut io.Writer) error {
	sandboxMode = sandboxMode || config.Load(getenv).Sandbox
	var sb *sandbox.Sandbox
	outbound := &http.Client{Timeout: 15 * time.Second}
	logger := logging.New(logOut, slog.LevelInfo)
	if sandboxMode {
		var err error
		if sb, getenv, err = startSandbox(getenv); err != nil {
			return err
		}
		defer sb.Close()
		outbound.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: sb.RootCAs()}}
		logger = logger.With("mode", "SANDBOX")
	}
	cfg := config.Load(getenv)
	descriptors, err := wellknown.Load(cfg.WellKnown.DIDJSON, cfg.WellKnown.DIDConfigurationJSON)
	if err := errors.Join(cfg.Validate(), err); err != nil {
		return configError{err}
	}
	slog.SetDefault(logger)
	gin.SetMode(gin.ReleaseMode)

	warnInconsistentDescriptors(cfg, descriptors)
	app, err := newApplication(ctx, cfg, descriptors, outbound, sb)
	if err != nil {
		return err
	}
	defer app.Close()
	srv := web.NewHTTPServer(cfg.ListenAddr, app.server.Handler())
	srv.RegisterOnShutdown(app.server.Close)
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return err
	}
	if sb != nil {
		fmt.Fprintf(logOut, "\nentra-verifier SANDBOX: open %s/ (simulated Microsoft and IDEMIA, made-up people, no accounts)\n\n", cfg.PublicURL)
	}
	slog.Info("verifier listening", "addr", ln.Addr().String(), "presentation", cfg.Entra.Enabled(), "ipa", cfg.IPA.Enabled(),
		"version", buildVersion(), "config", cfg)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	slog.Info("stopped")
	return nil
}

// application is the wired service: its store, domain services and HTTP server.
type application struct {
	store         store.Store
	ipa           *ipa.Service
	presentations *verifier.Service
	server        *web.Server
}

// newApplication wires cfg into an application; outbound is the client for every upstream call.
func newApplication(ctx context.Context, cfg *config.Config, descriptors *wellknown.Descriptors, outbound *http.Client, sb *sandbox.Sandbox) (*application, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	app := &application{store: st}
	opts := web.Options{Config: cfg, Store: st, WellKnown: descriptors}
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
		app.presentations = verifier.NewService(cfg, client, st, secret)
		app.presentations.ClaimsRetention = cfg.ClaimsRetention
		opts.Presentations = app.presentations
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
	}
	if app.server, err = web.New(opts); err != nil {
		app.Close()
		return nil, err
	}
	return app, nil
}

// Close releases the application's resources.
func (a *application) Close() {
	if a.ipa != nil {
		a.ipa.Close()
	}
	_ = a.store.Close()
}

// warnInconsistentDescriptors logs, at start-up, what `verifier check` would report about the descriptors:
// the service still starts, since Microsoft may be hosting a newer copy while ours is being replaced.
func warnInconsistentDescriptors(cfg *config.Config, d *wellknown.Descriptors) {
	for _, c := range descriptorChecks(cfg, d) {
		if c.err != nil {
			slog.Warn("DID descriptors are inconsistent: run `verifier check`", "check", c.name, "problem", c.err.Error())
		}
	}
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
