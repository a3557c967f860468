package verifier_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/entra-verifier/entra-verifier/verifier"
)

// TestReceiptVPTokenShapes: vp_token arrives as a string, an array or null; anything else is malformed.
func TestReceiptVPTokenShapes(t *testing.T) {
	const head = `{"requestId":"r","state":"s","requestStatus":"presentation_verified","receipt":{"vp_token":`
	tests := []struct {
		name, vpToken string
		want          verifier.Strings
		wantErr       bool
	}{
		{"string", `"a.b.c"`, verifier.Strings{"a.b.c"}, false},
		{"array", `["a.b.c","d.e.f"]`, verifier.Strings{"a.b.c", "d.e.f"}, false},
		{"empty array", `[]`, verifier.Strings{}, false},
		{"null", `null`, nil, false},
		{"number", `42`, nil, true},
		{"array of numbers", `[1]`, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cb, err := verifier.DecodeCallback([]byte(head + tc.vpToken + `}}`))
			if tc.wantErr {
				assert.ErrorIs(t, err, verifier.ErrMalformed)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, cb.Receipt)
			assert.Equal(t, tc.want, cb.Receipt.VPToken)
		})
	}
}
