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

// TestReadLimitedSizesFromContentLengthWithinBounds: a body is read whole whether or not it announced its
// length, a body shorter than it announced is a 400, and a Content-Length beyond presize that the body never
// fills costs no buffer of its size.
func TestReadLimitedSizesFromContentLengthWithinBounds(t *testing.T) {
	read := func(body string, announced int64) ([]byte, error) {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		c.Request.ContentLength = announced
		return readLimited(c, 4<<20)
	}
	for _, announced := range []int64{-1, 11, presize + 1} {
		got, err := read("hello world", announced)
		require.NoError(t, err)
		assert.Equal(t, "hello world", string(got), "Content-Length %d", announced)
	}
	_, err := read("hello", 11)
	var e *Error
	require.ErrorAs(t, err, &e, "a body shorter than its Content-Length")
	assert.Equal(t, http.StatusBadRequest, e.Status)

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
