package intake

import (
	"github.com/regionhmc/websesam-intake/store"
	"github.com/regionhmc/websesam-intake/store/workdays"
)

// Waiting ages the open requests at the daemon's clock against [queue]
// promise: who waits too long, for /metrics, status and the digest.
func (d *Daemon) Waiting() (store.Waiting, error) {
	return d.st.Waiting(d.now(), d.cfg.Queue.Promise, d.cal.Between)
}

// calendar is the working-day calendar of the daemon's location.
func calendar() *workdays.Calendar { return workdays.Swedish(nil) }
