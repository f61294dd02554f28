package mailtest

import (
	"bytes"
	"sync"
)

// Buffer is a log or an output that several goroutines write and a test
// reads; Changed fires at each write, so that a test can wait for a line
// (WaitSignal, Until) instead of polling. The zero value is ready to use.
type Buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	Changed Signal
}

// Write appends p and fires Changed.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.Changed.Fire()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
