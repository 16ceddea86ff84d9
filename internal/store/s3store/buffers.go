package s3store

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// bufferPool hands out the buffers that hold object bytes between the source
// and the network. One pool serves every Put on a Store, so the bytes held
// at once are bounded for the whole Store: a buffer is only handed out
// against a share of a byte budget, returned with the buffer.
type bufferPool struct {
	partSize int64 // buffers of this size are recycled
	budget   int64
	sem      *semaphore.Weighted
	pool     sync.Pool // of *buffer with len(data) == partSize

	held, peak atomic.Int64 // budget in use now, and at most so far
}

// buffer is a byte slice with the share of the budget it holds.
type buffer struct {
	data   []byte
	weight int64
}

func newBufferPool(partSize, budget int64) *bufferPool {
	return &bufferPool{partSize: partSize, budget: budget, sem: semaphore.NewWeighted(budget)}
}

// get waits until n bytes fit in the budget (or ctx ends) and returns a
// buffer of len n. A buffer larger than the whole budget takes all of it.
func (p *bufferPool) get(ctx context.Context, n int64) (*buffer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := min(n, p.budget)
	if err := p.sem.Acquire(ctx, w); err != nil {
		return nil, err
	}
	for h := p.held.Add(w); ; {
		old := p.peak.Load()
		if h <= old || p.peak.CompareAndSwap(old, h) {
			break
		}
	}
	if n == p.partSize {
		if b, ok := p.pool.Get().(*buffer); ok {
			b.weight = w
			return b, nil
		}
	}
	return &buffer{data: make([]byte, n), weight: w}, nil
}

// put returns b's share of the budget and recycles it. b must not be used
// afterwards. put(nil) does nothing.
func (p *bufferPool) put(b *buffer) {
	if b == nil {
		return
	}
	w := b.weight
	b.weight = 0
	p.held.Add(-w)
	if int64(len(b.data)) == p.partSize {
		p.pool.Put(b)
	}
	p.sem.Release(w)
}
