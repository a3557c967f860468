package web

import (
	"github.com/gin-gonic/gin"

	"github.com/entra-verifier/entra-verifier/wellknown"
)

// mountWellKnown serves the DID descriptors byte for byte; a descriptor that is not configured is 404.
func (s *Server) mountWellKnown(d *wellknown.Descriptors) {
	for path, body := range map[string][]byte{wellknown.DIDPath: d.DIDDocument, wellknown.ConfigurationPath: d.Configuration} {
		if body == nil {
			continue
		}
		h := gin.WrapH(wellknown.NewHandler(body))
		s.engine.GET(path, h)
		s.engine.HEAD(path, h)
	}
}
