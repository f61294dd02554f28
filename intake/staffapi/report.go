package staffapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/regionhmc/websesam-intake/formparse"
	"github.com/regionhmc/websesam-intake/store"
	"github.com/regionhmc/websesam-intake/store/workdays"
)

// ReportArgs are the report's period and the moment the queue is aged at.
type ReportArgs struct {
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	Now     time.Time `json:"now"`
	Promise int       `json:"promise,omitempty"` // 0: the daemon's [queue] promise
}

// PurgeArgs choose between showing and doing the retention pass.
type PurgeArgs struct {
	DryRun bool `json:"dry_run"`
}

// RetainFunc runs the retention pass ([retention]: the store and the
// outcome folders) as actor; with dryRun it only says what would go. The
// daemon gives its own (serialised with its daily pass); the CLI without a
// daemon builds one from the configuration.
type RetainFunc func(ctx context.Context, actor string, dryRun bool) (store.RetentionResult, error)

// ErrNoRetention: purge needs the [retention] section of the daemon's
// configuration, and the folder pass its mailbox login.
var ErrNoRetention = errors.New("no retention configuration")

// IntakeReport is the report as the wire carries it: the store's report,
// whose JSON is also `report --json`'s, stable within this Version.
type IntakeReport store.Report

// RetentionResult is what a retention pass removed (or would), as the
// wire carries it; its JSON is `purge --json`'s.
type RetentionResult store.RetentionResult

// The report and retention calls.
var (
	// Report counts the intake's work over a period (no personal data: not
	// audited).
	Report = newCall("report", func(l *Local, a ReportArgs) (IntakeReport, error) {
		if a.Promise == 0 {
			a.Promise = l.Promise
		}
		if a.Promise < 1 {
			return IntakeReport{}, fmt.Errorf("report: no promise in working days: %w", store.ErrInvalid)
		}
		if a.Now.IsZero() {
			a.Now = time.Now()
		}
		cal := workdays.Swedish(time.Local)
		r, err := l.Store.Report(store.ReportOptions{From: a.From, To: a.To, Now: a.Now, Promise: a.Promise,
			WorkdaysBetween: cal.Between, Location: time.Local, Organisation: organisation})
		return IntakeReport(r), err
	})
	// Purge runs (or, with DryRun, shows) the retention pass as the caller.
	Purge = newCall("purge", func(l *Local, a PurgeArgs) (RetentionResult, error) {
		if l.Retain == nil {
			return RetentionResult{}, fmt.Errorf("purge: %w", ErrNoRetention)
		}
		r, err := l.Retain(context.Background(), l.Actor, a.DryRun)
		return RetentionResult(r), err
	})
)

// organisation is the ordering organisation of a request's fields.
func organisation(f map[string]string) (verksamhet, kundnummer string) {
	return f[string(formparse.FieldVerksamhet)], f[string(formparse.FieldKundnummer)]
}
