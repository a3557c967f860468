package web

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadLimitedSizesFromContentLengthWithinBounds: the body is read whole whatever Content-Length says,
// and a Content-Length the body never fills costs no buffer of its size.
func TestReadLimitedSizesFromContentLengthWithinBounds(t *testing.T) {
	read := func(body string, announced int64) ([]byte, error) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		c.Request.ContentLength = announced
		return readLimited(c, 4<<20)
	}
	for _, announced := range []int64{-1, 0, 5, 11, 1 << 20} {
		got, err := read("hello world", announced)
		require.NoError(t, err)
		assert.Equal(t, "hello world", string(got), "Content-Length %d", announced)
	}

	const calls = 32
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range calls {
		_, err := read("{}", 4<<20)
		require.NoError(t, err)
	}
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(calls*presize),
		"a 4 MiB Content-Length with a 2-byte body allocated as if the body were there")
}
