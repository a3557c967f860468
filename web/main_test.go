package web_test

import (
	"os"
	"testing"

	"github.com/entra-verifier/entra-verifier/e2e"
)

func TestMain(m *testing.M) {
	e2e.Quiet()
	os.Exit(m.Run())
}
