package mailer

import (
	"sync"
	"testing"

	"github.com/regionhmc/websesam-intake/mailer/mailtest"
)

// sink is mailtest's SMTP sink seen through the names crash_test.go uses:
// addr, received(), and the fields it sets before the first delivery
// (dataStarted, discard) or reads after the last (count under mu).
type sink struct {
	*mailtest.Sink
	addr string
	// dataStarted, when set, gets a value as each DATA begins.
	dataStarted chan struct{}
	// discard keeps no message, only the count.
	discard bool
	mu      sync.Mutex
	count   int
}

// sunk is one message the sink accepted.
type sunk struct {
	from      string
	to        []string
	data      []byte
	messageID string
}

// startSink starts a plain relay that takes everything.
func startSink(t testing.TB) *sink { return newSink(t, mailtest.SinkOptions{}) }

// newSink starts a relay as opts say.
func newSink(t testing.TB, opts mailtest.SinkOptions) *sink {
	t.Helper()
	s := &sink{}
	opts.OnData = func() {
		if s.dataStarted != nil {
			s.dataStarted <- struct{}{}
		}
		s.Sink.Discard(s.discard)
	}
	opts.OnDeliver = func(mailtest.Mail) {
		s.mu.Lock()
		s.count++
		s.mu.Unlock()
	}
	s.Sink = mailtest.StartSink(t, opts)
	s.addr = s.Addr()
	return s
}

func (s *sink) received() []sunk {
	var out []sunk
	for _, m := range s.Received() {
		out = append(out, sunk{from: m.From, to: m.To, data: m.Data, messageID: m.MessageID})
	}
	return out
}
