package memory_test

import (
	"testing"

	"github.com/entra-verifier/entra-verifier/store"
	"github.com/entra-verifier/entra-verifier/store/memory"
	"github.com/entra-verifier/entra-verifier/store/storetest"
)

// newBenchStore returns a store large enough for every record one benchmark run creates.
func newBenchStore(b *testing.B) store.Store {
	s := memory.New(memory.Options{MaxRecords: b.N + 1000})
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkTransition is the baseline of store/redis's BenchmarkTransition.
func BenchmarkTransition(b *testing.B) { storetest.BenchmarkTransition(b, newBenchStore) }

// BenchmarkRead is the baseline of store/redis's BenchmarkRead.
func BenchmarkRead(b *testing.B) { storetest.BenchmarkRead(b, newBenchStore) }
