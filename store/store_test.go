package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/entra-verifier/entra-verifier/store"
)

func TestWhileUnavailable(t *testing.T) {
	down := fmt.Errorf("redis: %w", store.ErrUnavailable)
	other := errors.New("decode record")
	tests := []struct {
		name     string
		answers  []error // what op answers, call after call; the last one repeats
		cancel   bool    // ctx ends after the first failure
		want     error
		calls    int
		retrying int
	}{
		{"success at once", []error{nil}, false, nil, 1, 0},
		{"back after two failures", []error{down, down, nil}, false, nil, 3, 2},
		{"another error is returned at once", []error{other}, false, other, 1, 0},
		{"unchanged is not a failure", []error{down, store.ErrUnchanged}, false, store.ErrUnchanged, 2, 1},
		{"gives up with the last error when ctx ends", []error{down}, true, down, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			calls, retrying := 0, 0
			err := store.WhileUnavailable(ctx, time.Millisecond, func(err error) {
				retrying++
				assert.ErrorIs(t, err, store.ErrUnavailable)
			}, func() error {
				err := tc.answers[min(calls, len(tc.answers)-1)]
				calls++
				if tc.cancel {
					cancel()
				}
				return err
			})
			assert.ErrorIs(t, err, tc.want) // with tc.want nil: err is nil
			assert.Equal(t, tc.calls, calls)
			assert.Equal(t, tc.retrying, retrying)
		})
	}
}
