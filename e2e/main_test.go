package e2e

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	Quiet()
	code := m.Run()
	closeBrowser()
	os.Exit(code)
}
