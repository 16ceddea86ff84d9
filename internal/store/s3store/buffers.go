package s3store

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// minClass is the smallest recycled buffer: smaller objects get a fresh
// allocation, which costs the garbage collector little.
const minClass = 64 << 10

// bufferPool hands out the buffers that hold object bytes between the source
// and the network. One pool serves every Put on a Store, so the bytes held
// at once are bounded for the whole Store: a buffer is only handed out
// against a share of a byte budget, returned with the buffer.
//
// Buffers from 64 KiB up to the part size are recycled in size classes
// (powers of two, and the part size itself) and weigh their class, the
// memory they really hold. Without recycling, objects of a few MiB, each
// a fresh allocation, leave the garbage collector so much to catch up with
// that the process grows far past the budget (make bench-compare measured
// 106 MiB peak RSS for 3 MiB objects with a 40 MiB budget).
type bufferPool struct {
	partSize int64
	budget   int64
	sem      *semaphore.Weighted
	classes  []int64      // ascending; the last is partSize
	pools    []*sync.Pool // of *buffer with cap(data) == classes[i]

	held, peak atomic.Int64 // budget in use now, and at most so far
}

// buffer is a byte slice with the share of the budget it holds.
type buffer struct {
	data   []byte
	weight int64
}

func newBufferPool(partSize, budget int64) *bufferPool {
	p := &bufferPool{partSize: partSize, budget: budget, sem: semaphore.NewWeighted(budget)}
	for c := int64(minClass); c < partSize; c *= 2 {
		p.classes = append(p.classes, c)
	}
	p.classes = append(p.classes, partSize)
	for range p.classes {
		p.pools = append(p.pools, &sync.Pool{})
	}
	return p
}

// class returns the index of the size class of an n-byte buffer, or -1
// when such buffers are not recycled.
func (p *bufferPool) class(n int64) int {
	if n < minClass || n > p.partSize {
		return -1
	}
	for i, c := range p.classes {
		if n <= c {
			return i
		}
	}
	return -1
}

// get waits until the buffer fits in the budget (or ctx ends) and returns a
// buffer of len n. A buffer larger than the whole budget takes all of it.
func (p *bufferPool) get(ctx context.Context, n int64) (*buffer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	i := p.class(n)
	size := n
	if i >= 0 {
		size = p.classes[i]
	}
	w := min(size, p.budget)
	if err := p.sem.Acquire(ctx, w); err != nil {
		return nil, err
	}
	for h := p.held.Add(w); ; {
		old := p.peak.Load()
		if h <= old || p.peak.CompareAndSwap(old, h) {
			break
		}
	}
	if i >= 0 {
		b, ok := p.pools[i].Get().(*buffer)
		if !ok {
			b = &buffer{data: make([]byte, size)}
		}
		b.data, b.weight = b.data[:n], w
		return b, nil
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
	if i := p.class(int64(cap(b.data))); i >= 0 && p.classes[i] == int64(cap(b.data)) {
		b.data = b.data[:cap(b.data)]
		p.pools[i].Put(b)
	}
	p.sem.Release(w)
}
