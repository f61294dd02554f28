package endpoint

import (
	"errors"
	"fmt"
)

// ErrConfig is matched (errors.Is) by every configuration problem, so that
// the command exits with status 2 (bad configuration) rather than 1.
var ErrConfig = errors.New("bad configuration")

// Problem is one configuration problem: the key as written in the file
// ("mailer.smtp.ca_file") and what is wrong with it, in words that say what
// to do. The command prints Key and Msg as they are; nobody recovers a key
// from an error's text.
type Problem struct {
	Key string
	Msg string
	// Err is the problem as a package that cannot name this type reported
	// it (package mailer's own sentinel stays matchable), or nil.
	Err error
}

// Error reads "bad configuration: key: msg", for a log or a message that
// stands alone.
func (p *Problem) Error() string {
	if p.Key == "" {
		return ErrConfig.Error() + ": " + p.Msg
	}
	return ErrConfig.Error() + ": " + p.Key + ": " + p.Msg
}

// String is "key: msg", the line config check prints.
func (p *Problem) String() string {
	if p.Key == "" {
		return p.Msg
	}
	return p.Key + ": " + p.Msg
}

// Is makes every Problem match ErrConfig.
func (p *Problem) Is(target error) bool { return target == ErrConfig }

// Unwrap gives the wrapped original, if any.
func (p *Problem) Unwrap() error { return p.Err }

// Problemf makes a *Problem for key.
func Problemf(key, format string, args ...any) error {
	return &Problem{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Problems flattens (nested) errors.Join results into their problems, in
// order. A leaf that is not a *Problem becomes one without a key, so that
// nothing is lost.
func Problems(err error) []*Problem {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Problem
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	var p *Problem
	if errors.As(err, &p) {
		return []*Problem{p}
	}
	return []*Problem{{Msg: err.Error(), Err: err}}
}
