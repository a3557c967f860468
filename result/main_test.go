package result_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestMain quiets what the in-process application (handoff_test.go) prints; tests that read logs capture
// their own (captureLogs).
func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
