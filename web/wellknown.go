package web

import (
	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/wellknown"
)

// mountWellKnown serves the DID descriptors byte for byte; a descriptor that is not configured is not routed
// (404). did.json is served where its DID says (under its did:web path, if any); did-configuration.json always
// under /.well-known/.
func (s *Server) mountWellKnown(d *wellknown.Descriptors) {
	if d.DIDDocument != nil {
		s.engine.Match([]string{"GET", "HEAD"}, d.DIDPath(), gin.WrapH(d.DIDHandler()))
	}
	if d.Configuration != nil {
		s.engine.Match([]string{"GET", "HEAD"}, wellknown.ConfigurationPath, gin.WrapH(d.ConfigurationHandler()))
	}
}
