package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

var logOnce sync.Once

// slogLogger sends go-redis's own messages (dial failures, reconnects) to the service's structured log
// instead of plain text on stderr.
type slogLogger struct{}

func (slogLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.WarnContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}

func useSlog() { logOnce.Do(func() { goredis.SetLogger(slogLogger{}) }) }
