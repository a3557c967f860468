package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/entra-verifier/entra-verifier/config"
	"github.com/entra-verifier/entra-verifier/i18n"
	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/wellknown"
)

// Watcher delivers change notifications (store.Store.Watch).
type Watcher interface {
	Watch(ctx context.Context, topic string) (<-chan struct{}, error)
}

// Pinger reports whether the store is reachable (store.Store.Ping).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options are the server's dependencies. Presentations may be nil when the presentation half is off.
type Options struct {
	Config *config.Config
	Store  interface {
		Watcher
		Pinger
		Limiter
		store.Owners
	}
	Presentations Presentations
	// Sessions may be nil when the IPA half is off.
	Sessions Sessions
	// Journeys runs backend journeys; nil without VERIFIER_API_KEYS (the backend routes then answer 404).
	Journeys Journeys
	// IdentityRetrieval says a completed IPA session later learns its identity summary.
	IdentityRetrieval bool
	// Sandbox, when set, marks every answer as SANDBOX and serves the simulated phone.
	Sandbox *Sandbox
	// Handoff, when set, enables return URLs and serves /.well-known/jwks.json.
	Handoff *Handoff
	// WellKnown holds the DID descriptors to serve; nil serves none.
	WellKnown *wellknown.Descriptors
	// Metrics are the Prometheus series; nil creates them.
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the HTTP application. Handler serves it; Shutdown-aware streams end when Close is called.
type Server struct {
	cfg           *config.Config
	origin        string
	engine        *gin.Engine
	watch         Watcher
	ping          Pinger
	limits        Limiter
	owners        store.Owners
	presentations Presentations
	sessions      Sessions
	journeys      Journeys
	backendOn     bool // the backend routes are mounted: journeys and VERIFIER_API_KEYS
	retrieval     bool
	sandbox       *Sandbox
	handoff       *Handoff
	page          pageSite        // what every page renders the same for everyone
	catalogue     *i18n.Catalogue // the page's texts in the offered languages
	metrics       *Metrics
	qr            *qrCache
	streams       *streamSlots
	now           func() time.Time
	cookieName    string // of the binding cookie: CookieNameFor the public URL

	shutdown  chan struct{}
	closeOnce sync.Once
}

// New builds the server and its routes.
func New(opts Options) (*Server, error) {
	s := &Server{
		cfg: opts.Config, engine: gin.New(), watch: opts.Store, ping: opts.Store, limits: opts.Store, owners: opts.Store,
		presentations: opts.Presentations, sessions: opts.Sessions, journeys: opts.Journeys, handoff: opts.Handoff, retrieval: opts.IdentityRetrieval, metrics: opts.Metrics, qr: newQRCache(4096),
		streams: newStreamSlots(max(opts.Config.StreamsPerBrowser, 1)),
		now:     opts.Now, shutdown: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	if t, ok := opts.Store.(interface{ RoundTrips() uint64 }); ok {
		s.metrics.countStoreTrips(t.RoundTrips)
	}
	if u := opts.Config.PublicURL; u != nil {
		s.origin = normalOrigin(u)
	}
	s.cookieName = CookieNameFor(opts.Config.PublicURL)
	e := s.engine
	e.HandleMethodNotAllowed = true
	if err := e.SetTrustedProxies(opts.Config.TrustedProxies); err != nil {
		return nil, err
	}
	e.RemoteIPHeaders = []string{"X-Forwarded-For"} // SPEC: X-Forwarded-For from trusted proxies only
	e.Use(requestID, s.accessLog, recovery, s.securityHeaders)
	if opts.Sandbox != nil {
		s.sandbox = opts.Sandbox
		e.Use(func(c *gin.Context) { c.Header("X-Verifier-Sandbox", "true") })
		e.Any(routes.Sandbox, func(c *gin.Context) { htmlHeaders(c); c.Next() }, gin.WrapH(opts.Sandbox.Phone))
	}
	e.NoRoute(func(c *gin.Context) {
		if s.backendNoRoute(c) {
			return
		}
		writeError(c, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such route"})
	})
	e.NoMethod(func(c *gin.Context) {
		writeError(c, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "method not allowed"})
	})

	e.GET(routes.Healthz, func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET(routes.Readyz, s.ready)
	if opts.Config.MetricsAddr == "" { // otherwise only MetricsHandler, on its own listener, serves them
		e.GET(routes.Metrics, gin.WrapH(s.metricsEndpoint()))
	}

	if opts.WellKnown != nil {
		s.mountWellKnown(opts.WellKnown)
	}
	if s.handoff != nil {
		e.GET(routes.JWKS, s.jwks)
	}
	api := e.Group("", noStore) // the API's routes, full paths from package routes
	if s.presentations != nil {
		s.mountPresentations(api)
	}
	if s.sessions != nil {
		s.mountSessions(api)
	}
	if s.backendOn = s.journeys != nil && len(opts.Config.APIKeys) > 0; s.backendOn {
		s.mountBackend(api)
		e.GET(routes.Launch, s.launch)
		slog.Info("backend routes on", "keyNames", strings.Join(keyNames(opts.Config.APIKeys), ","))
	}
	api.GET(routes.PageJourney, s.journey)
	if err := s.mountPage(); err != nil {
		return nil, err
	}
	return s, nil
}

// Sandbox is what sandbox mode adds: the simulated phone's pages (mounted under /sandbox/) and the link
// from a presentation request's openid-vc:// URL to the simulated phone.
type Sandbox struct {
	Phone    http.Handler
	PhoneURL func(openidURL string) string
}

// Handler returns the http.Handler serving every route.
func (s *Server) Handler() http.Handler { return s.engine }

// MetricsHandler serves GET /metrics alone, for the VERIFIER_METRICS_ADDR listener; every other path and
// method answers 404 or 405.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsEndpoint())
	return mux
}

func (s *Server) metricsEndpoint() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

// Close ends open event streams; call it when the HTTP server starts shutting down.
func (s *Server) Close() { s.closeOnce.Do(func() { close(s.shutdown) }) }

func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.ping.Ping(ctx); err != nil {
		s.metrics.storeErrors.Inc()
		slog.WarnContext(ctx, "not ready: store unreachable", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "store": "unreachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// NewHTTPServer wraps h in an http.Server with timeouts on every phase; event streams lift their own
// write deadline.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
