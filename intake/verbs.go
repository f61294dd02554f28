package intake

import (
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// The IMAP commands the daemon sends, one typed verb each, every one under
// the command deadline (conn.do): the stages call these and never hand the
// client library a closure of their own. UID sets only (the in-memory test
// server, among others, gets sequence numbers wrong on a multi-message
// MOVE).

// selectMailbox selects (or, read-only, examines) a mailbox.
func (cn *conn) selectMailbox(name string, readOnly bool) (*imap.SelectData, error) {
	var sel *imap.SelectData
	err := cn.do(func() error {
		var err error
		sel, err = cn.c.Select(name, &imap.SelectOptions{ReadOnly: readOnly}).Wait()
		return err
	})
	return sel, err
}

// searchUIDs runs UID SEARCH and returns every UID it matched.
func (cn *conn) searchUIDs(criteria *imap.SearchCriteria) ([]imap.UID, error) {
	var uids []imap.UID
	err := cn.do(func() error {
		data, err := cn.c.UIDSearch(criteria, nil).Wait()
		if err != nil {
			return err
		}
		uids = data.AllUIDs()
		return nil
	})
	return uids, err
}

// searchMessageID finds the UIDs of the selected mailbox whose Message-ID
// header contains id (servers match substrings: check the envelope).
func (cn *conn) searchMessageID(id string) ([]imap.UID, error) {
	return cn.searchUIDs(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-Id", Value: id}}})
}

// fetch runs one UID FETCH and collects the answers in memory (envelopes,
// flags, structure: never bodies, see fetchBodies).
func (cn *conn) fetch(uids []imap.UID, opts *imap.FetchOptions) ([]*imapclient.FetchMessageBuffer, error) {
	var bufs []*imapclient.FetchMessageBuffer
	err := cn.do(func() error {
		var err error
		bufs, err = cn.c.Fetch(imap.UIDSetNum(uids...), opts).Collect()
		return err
	})
	return bufs, err
}

// fetchBodies downloads whole messages without setting \Seen (BODY.PEEK[]),
// one message at a time off the wire; messages gone from the server are
// missing from the result.
func (cn *conn) fetchBodies(uids []imap.UID) (map[imap.UID][]byte, error) {
	section := &imap.FetchItemBodySection{Peek: true}
	out := make(map[imap.UID][]byte, len(uids))
	err := cn.do(func() error {
		cmd := cn.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		for {
			m := cmd.Next()
			if m == nil {
				break
			}
			b, err := m.Collect()
			if err != nil {
				cmd.Close()
				return err
			}
			if raw := b.FindBodySection(section); raw != nil && b.UID != 0 {
				out[b.UID] = raw
			}
		}
		return cmd.Close()
	})
	return out, err
}

// addFlag adds one flag to the messages, silently.
func (cn *conn) addFlag(uids []imap.UID, f imap.Flag) error {
	return cn.do(func() error {
		return cn.c.Store(imap.UIDSetNum(uids...), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{f}}, nil).Close()
	})
}

// seenAndMove flags the messages \Seen and moves them (RFC 6851), the two
// commands sent back to back (UID commands pipeline safely): one round
// trip instead of two. A refused \Seen is returned apart (the move stands).
func (cn *conn) seenAndMove(uids []imap.UID, dest string) (errSeen, err error) {
	set := imap.UIDSetNum(uids...)
	err = cn.do(func() error {
		seen := cn.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil)
		move := cn.c.Move(set, dest)
		errSeen = seen.Close()
		if _, err := move.Wait(); err != nil {
			return fmt.Errorf("move uids %v: %w", set, err)
		}
		return nil
	})
	return errSeen, err
}

// move moves the messages (RFC 6851).
func (cn *conn) move(uids []imap.UID, dest string) error {
	return cn.do(func() error { _, err := cn.c.Move(imap.UIDSetNum(uids...), dest).Wait(); return err })
}

// copy copies the messages.
func (cn *conn) copy(uids []imap.UID, dest string) error {
	return cn.do(func() error { _, err := cn.c.Copy(imap.UIDSetNum(uids...), dest).Wait(); return err })
}

// expunge removes exactly these messages (UID EXPUNGE, RFC 4315), never
// every \Deleted message of the mailbox.
func (cn *conn) expunge(uids []imap.UID) error {
	return cn.do(func() error { _, err := cn.c.UIDExpunge(imap.UIDSetNum(uids...)).Collect(); return err })
}

// noop asks the server for what it has queued (new mail among it).
func (cn *conn) noop() error {
	return cn.do(func() error { return cn.c.Noop().Wait() })
}

// logout ends the session politely; its answer does not matter.
func (cn *conn) logout() {
	_ = cn.do(func() error { return cn.c.Logout().Wait() })
}

// idle starts IDLE; stop it with stopIdle before any other command.
func (cn *conn) idle() (*imapclient.IdleCommand, error) {
	var idle *imapclient.IdleCommand
	err := cn.do(func() error {
		var err error
		idle, err = cn.c.Idle()
		return err
	})
	return idle, err
}

// stopIdle ends IDLE and waits for the server's answer.
func (cn *conn) stopIdle(idle *imapclient.IdleCommand) error {
	return cn.do(func() error {
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	})
}

// closed is closed when the connection ends (the server hung up, or the
// deadline closed it).
func (cn *conn) closed() <-chan struct{} { return cn.c.Closed() }
