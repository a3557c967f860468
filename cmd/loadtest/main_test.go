package main

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestCountsTooSmallAreRefused: a count a scenario cannot run with is refused before anything starts
// (-paced 1 used to end in an index out of range in the first paced scenario).
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
		{[]string{"-rate", "NaN"}, "-rate NaN: must be above 0"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			assert.EqualError(t, run(tc.args, io.Discard), tc.want)
		})
	}
}

// TestRoundsAddUp: the rounds of a scenario make one sample (operations, errors and time summed, latencies
// merged in order, the first error kept) and per-operation means weighted by each round's operations.
func TestRoundsAddUp(t *testing.T) {
	first := errors.New("first")
	a := sample{n: 4, errors: 1, elapsed: time.Second, lat: []time.Duration{1, 5, 9}, firstErr: first}
	b := sample{n: 2, elapsed: 3 * time.Second, lat: []time.Duration{2, 7}, firstErr: errors.New("second")}
	got := sample{}.plus(a).plus(b)
	assert.Equal(t, 6, got.n)
	assert.Equal(t, 1, got.errors)
	assert.Equal(t, 4*time.Second, got.elapsed)
	assert.Equal(t, []time.Duration{1, 2, 5, 7, 9}, got.lat)
	assert.Same(t, first, got.firstErr)
	assert.InDelta(t, 5.0/4, got.perSecond(), 1e-9)

	mean := alloc{}.plus(alloc{objects: 100, cpu: 60}, 0, 3).plus(alloc{objects: 200, cpu: 90}, 3, 1)
	assert.Equal(t, alloc{objects: 125, cpu: 67.5}, mean)
	assert.Equal(t, alloc{}, alloc{}.plus(alloc{}, 0, 0))
}
