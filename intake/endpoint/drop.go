package endpoint

import "io"

// Drop closes the connection *c, when there is one, and forgets it, so that
// the next use dials afresh (after a failed request, or at Close). It
// returns what Close returned. The caller holds whatever guards *c.
func Drop[C interface {
	comparable
	io.Closer
}](c *C) error {
	var none C
	if *c == none {
		return nil
	}
	err := (*c).Close()
	*c = none
	return err
}
