package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/journey"
	"github.com/entra-verifier/entra-verifier/routes"
	"github.com/entra-verifier/entra-verifier/store"
)

// launch is GET /start/{launchToken}: it binds this browser to the journey (setting the binding cookie
// when it has none) and sends it to the page; another browser, or an unknown or expired link, gets the 410
// page.
func (s *Server) launch(c *gin.Context) {
	owner, bind := s.owner(c)
	_, err := s.journeys.Open(c.Request.Context(), c.Param("launchToken"), owner)
	switch {
	case errors.Is(err, journey.ErrLinkGone):
		s.renderPage(c, http.StatusGone, "gone.html", pageOptions{}) // in the person's language
		return
	case err != nil:
		writeError(c, err)
		return
	}
	bind()
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusSeeOther, routes.Page)
}

// activeJourney is the journey of the browser whose owner hash is owner while it accepts steps, or nil.
func (s *Server) activeJourney(ctx context.Context, owner string) (*store.Journey, error) {
	if s.journeys == nil {
		return nil, nil
	}
	j, err := s.journeys.Active(ctx, owner)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return j, err
}
