package staffapi

import (
	"errors"

	"github.com/regionhmc/websesam-intake/mailer"
	"github.com/regionhmc/websesam-intake/store"
)

// Staff is a way to the staff calls: a *Client talks to the daemon over
// its socket, a *Local calls the store directly (the daemon's socket
// handler uses one per caller, and the CLI uses one when no daemon runs).
// Every call is made with the table's Do, e.g.
//
//	r, err := staffapi.Claim.Do(ctx, s, staffapi.ClaimArgs{ID: id})
//
// and acts as one person, fixed when the value is made: the actor is never
// an argument a caller can choose per call.
type Staff interface {
	staff()
}

// ErrNoComposer: done and reject write the notices in the same transaction,
// so without the mailer's configuration they cannot run at all (rather than
// close a request that nobody is told about).
var ErrNoComposer = errors.New("no mailer configuration to compose the notices")

// Local runs the staff calls against an open store as one actor.
type Local struct {
	Store *store.Store
	// Composer writes the Klar and Avslag notices; nil refuses done and
	// reject with ErrNoComposer.
	Composer *mailer.Composer
	Actor    string
	// Samples are the daemon's figures, set when the daemon serves the
	// call; nil when the store is opened directly.
	Samples func() (map[string]float64, error)
	// Promise is [queue] promise, for a report that does not give one.
	Promise int
	// Retain runs the retention pass; nil refuses purge with ErrNoRetention.
	Retain RetainFunc
}

func (*Local) staff() {}
