package daemon

import "sync"

// tracker counts running jobs across configuration generations and tells
// when the last one has ended after it was closed.
type tracker struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{}
}

func newTracker() *tracker { return &tracker{idle: make(chan struct{})} }

// start registers a job; false once the tracker is closed (shutting down).
func (t *tracker) start() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.n++
	return true
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.closed {
		close(t.idle)
	}
}

// close refuses new jobs and returns a channel closed once none runs, and
// how many were running.
func (t *tracker) close() (<-chan struct{}, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed = true
		if t.n == 0 {
			close(t.idle)
		}
	}
	return t.idle, t.n
}
