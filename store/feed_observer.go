package store

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sandboxauth/sandboxauth/core"
)

// WithFeedObserver sets the observer told of the change feed's events
// (metrics; docs/design.md §9). Default none. The listener reports:
//
//   - core.FeedConnected when LISTEN is active: once when Listen returns,
//     and again after every reconnection;
//   - core.FeedDisconnected when the connection is lost, and when Close
//     stops a connected listener (changes are no longer received);
//   - core.FeedReconnect when a reconnection succeeded, just before its
//     FeedConnected;
//   - core.FeedFlush after the listener flushed the cache: after every
//     reconnection (after its FeedConnected), and for an empty payload;
//   - core.FeedNotification for each notification received, before it is
//     acted on.
//
// So one lost connection reads FeedDisconnected, FeedReconnect,
// FeedConnected, FeedFlush. The observer is called from the listener's
// goroutine, one event at a time, in that order; it must not block (the
// feed waits for it) and must not call the Listener's Close. A panic of the
// observer is logged (WithLogger) and the feed goes on.
func WithFeedObserver(o core.FeedObserver) ListenOption {
	return func(c *listenConfig) {
		c.observer = o
		c.observerSet = true
	}
}

// observe reports ev to the feed observer, if any. A panic of the
// observer is logged and goes no further: on the listener's goroutine it
// would end the process, and the feed's work around the event (a flush, an
// invalidation) must still happen.
func (l *Listener) observe(ev core.FeedEvent) {
	if l.cfg.observer == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			l.cfg.logger.LogAttrs(context.Background(), slog.LevelError, "sandboxauth change feed observer panicked",
				slog.String("event", ev.String()), slog.String("panic", fmt.Sprint(p)))
		}
	}()
	l.cfg.observer.ObserveFeed(ev)
}
