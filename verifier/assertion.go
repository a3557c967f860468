package verifier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// maxAssertionBytes bounds the client assertion file (a projected service account token is about 1 KiB).
const maxAssertionBytes = 64 << 10

// AssertionFile reads a federated client assertion (Azure Workload Identity's projected service account
// token) from a file that rotates, so it is read afresh at every token request. Its content is a secret: no
// error or log line ever holds it.
type AssertionFile struct {
	// Path is ENTRA_CLIENT_ASSERTION_FILE.
	Path string
}

// Read returns the assertion in the file, without surrounding white space.
func (a AssertionFile) Read(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("ENTRA_CLIENT_ASSERTION_FILE: %w", err)
	}
	f, err := os.Open(a.Path)
	if err != nil {
		return "", fmt.Errorf("ENTRA_CLIENT_ASSERTION_FILE: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAssertionBytes+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("ENTRA_CLIENT_ASSERTION_FILE: read %s: %w", a.Path, err)
	case len(b) > maxAssertionBytes:
		return "", fmt.Errorf("ENTRA_CLIENT_ASSERTION_FILE: %s is larger than %d bytes: it must hold one JWT", a.Path, maxAssertionBytes)
	}
	assertion := strings.TrimSpace(string(b))
	if assertion == "" {
		return "", fmt.Errorf("ENTRA_CLIENT_ASSERTION_FILE: %s is empty: %w", a.Path, errEmptyAssertion)
	}
	return assertion, nil
}

var errEmptyAssertion = errors.New("no client assertion")

// Credential is the MSAL credential whose callback reads the file at every token request.
func (a AssertionFile) Credential() confidential.Credential {
	return confidential.NewCredFromAssertionCallback(func(ctx context.Context, _ confidential.AssertionRequestOptions) (string, error) {
		return a.Read(ctx)
	})
}
