package web

import (
	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/wellknown"
)

// mountWellKnown serves the DID descriptors byte for byte; a descriptor that is not configured is not routed
// (404).
func (s *Server) mountWellKnown(d *wellknown.Descriptors) {
	if d.DIDDocument != nil {
		s.engine.Match([]string{"GET", "HEAD"}, wellknown.DIDPath, gin.WrapH(d.DIDHandler()))
	}
	if d.Configuration != nil {
		s.engine.Match([]string{"GET", "HEAD"}, wellknown.ConfigurationPath, gin.WrapH(d.ConfigurationHandler()))
	}
}
