package scenario

import (
	"net/http"
)

// DiscardWriter is a no-op http.ResponseWriter for in-process benchmarks: it
// keeps the status and counts the body bytes, and nothing else, so that what
// is measured is the router and the middleware, not a recorder. Reset makes
// it ready for the next request, reusing its header map.
type DiscardWriter struct {
	header http.Header
	status int
	n      int
}

// NewDiscardWriter returns an empty DiscardWriter.
func NewDiscardWriter() *DiscardWriter { return &DiscardWriter{header: make(http.Header, 8)} }

// Header returns the response header map.
func (w *DiscardWriter) Header() http.Header { return w.header }

// WriteHeader records the first status written.
func (w *DiscardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// Write discards p, recording an implicit 200 if no status was written.
func (w *DiscardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

// WriteString is Write for a string, without a conversion.
func (w *DiscardWriter) WriteString(s string) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(s)
	return len(s), nil
}

// Status returns the status of the response (200 if only a body was
// written, 0 if nothing was).
func (w *DiscardWriter) Status() int { return w.status }

// Len returns the number of body bytes written.
func (w *DiscardWriter) Len() int { return w.n }

// Reset forgets the response, keeping the header map's storage.
func (w *DiscardWriter) Reset() {
	clear(w.header)
	w.status, w.n = 0, 0
}

// ServeOnce serves r on t's handler into w after resetting w, and returns
// the status.
func (t *Target) ServeOnce(w *DiscardWriter, r *http.Request) int {
	w.Reset()
	t.Handler.ServeHTTP(w, r)
	return w.Status()
}
