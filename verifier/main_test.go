package verifier_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestMain quiets gin and the default logger, as the e2e package does: tests that read logs capture their own.
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
