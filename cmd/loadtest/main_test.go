package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCountsTooSmallAreRefused: a count a scenario cannot run with is refused before anything starts
// (-paced 1 used to end in an index out of range after every Redis scenario's setup).
func TestCountsTooSmallAreRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-paced", "1"}, "-paced 1: at least 2"},
		{[]string{"-callbacks", "0"}, "-callbacks 0: at least 2"},
		{[]string{"-cycles", "0"}, "-cycles 0: at least 1"},
		{[]string{"-watchers", "-3"}, "-watchers -3: at least 1"},
		{[]string{"-concurrency", "0"}, "-concurrency 0: at least 1"},
		{[]string{"-rate", "0"}, "-rate 0: must be above 0"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			assert.EqualError(t, run(tc.args, io.Discard), tc.want)
		})
	}
}
