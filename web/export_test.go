package web

import "github.com/gin-gonic/gin"

// Routes lists the engine's routes (method and gin path), for the tests of package web_test.
func (s *Server) Routes() gin.RoutesInfo { return s.engine.Routes() }

// ClientKey exposes clientKey to the tests of package web_test.
var ClientKey = clientKey

// MethodLabel exposes methodLabel to the tests of package web_test.
var MethodLabel = methodLabel

// SessionCookie exposes sessionCookie to the tests of package web_test.
var SessionCookie = sessionCookie

// HashOwner exposes hashOwner to the tests of package web_test.
var HashOwner = hashOwner

// StreamsHeld is how many event-stream slots the browser whose owner hash is owner holds.
func (s *Server) StreamsHeld(owner string) int { return s.streams.held(owner) }
