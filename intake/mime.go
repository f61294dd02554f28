package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strings"

	"github.com/emersion/go-message"
	// Without the charset tables windows-1252 and ISO-8859-15 subjects and
	// file names come back raw with an error (NOTES.md).
	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
)

// maxDepth bounds nested multiparts and forwarded messages: real mail nests
// a few levels, a crafted message thousands.
const maxDepth = 12

// file is one attachment or inline part that may be a form.
type file struct {
	Name        string // decoded file name (RFC 2231/2047), may be empty
	ContentType string // as declared; never trusted for the decision
	Data        []byte
	TooLarge    bool // the part was over the attachment limit; Data is empty
}

// parsedMail is what the decision needs of a message.
type parsedMail struct {
	Header mail.Header // the outermost header
	Files  []file
	// TooMany is set when the message holds more files than allowed; the
	// rest were not read.
	TooMany bool
	// Failed lists the addresses a delivery report says failed.
	Failed []string
}

// errMIME marks a message whose structure cannot be read at all.
var errMIME = errors.New("unreadable message structure")

// parseMail walks the whole MIME tree of raw: multiparts, nested
// message/rfc822 (forwarded as an attachment), inline parts with file names
// (Apple Mail sends PDFs inline). Every leaf that is not a message's own
// text body is a file; the content decides later what it is.
func parseMail(raw []byte, maxFile int64, maxFiles int) (*parsedMail, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("%w: %v", errMIME, err)
	}
	pm := &parsedMail{Header: mail.Header{Header: e.Header}}
	w := walker{pm: pm, maxFile: maxFile, maxFiles: maxFiles}
	if err := w.walk(e, 0); err != nil {
		return nil, err
	}
	return pm, nil
}

type walker struct {
	pm       *parsedMail
	maxFile  int64
	maxFiles int
}

func (w *walker) walk(e *message.Entity, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested more than %d levels", errMIME, maxDepth)
	}
	mediaType, _, err := e.Header.ContentType()
	if err != nil || mediaType == "" {
		mediaType = "text/plain"
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return fmt.Errorf("%w: %v", errMIME, err)
			}
			if p == nil {
				return fmt.Errorf("%w: a part without header", errMIME)
			}
			if err := w.walk(p, depth+1); err != nil {
				return err
			}
		}
	}
	disp, _, _ := e.Header.ContentDisposition()
	ah := mail.AttachmentHeader{Header: e.Header}
	name, _ := ah.Filename()
	switch {
	case mediaType == "message/rfc822" || mediaType == "message/global":
		// A forwarded message, inline or as a named attachment: walked, its
		// forms are what the sender meant to send.
		inner, err := message.Read(e.Body)
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return fmt.Errorf("%w: forwarded message: %v", errMIME, err)
		}
		return w.walk(inner, depth+1)
	case mediaType == "message/delivery-status" || mediaType == "message/global-delivery-status":
		w.pm.Failed = append(w.pm.Failed, failedRecipients(e.Body)...)
		return nil
	case strings.HasPrefix(mediaType, "text/") && name == "" && disp != "attachment":
		// The message's own words.
		_, err := io.Copy(io.Discard, e.Body)
		return ignoreCharset(err)
	}
	if len(w.pm.Files) >= w.maxFiles {
		w.pm.TooMany = true
		_, err := io.Copy(io.Discard, e.Body)
		return ignoreCharset(err)
	}
	data, err := io.ReadAll(io.LimitReader(e.Body, w.maxFile+1))
	if err != nil && ignoreCharset(err) != nil {
		return fmt.Errorf("%w: read part %q: %v", errMIME, name, err)
	}
	f := file{Name: name, ContentType: mediaType}
	if int64(len(data)) > w.maxFile {
		f.TooLarge = true
		_, _ = io.Copy(io.Discard, e.Body)
	} else {
		f.Data = data
	}
	w.pm.Files = append(w.pm.Files, f)
	return nil
}

func ignoreCharset(err error) error {
	if err == nil || message.IsUnknownCharset(err) || message.IsUnknownEncoding(err) {
		return nil
	}
	return err
}

// failedRecipients reads a delivery-status body (RFC 3464): per-recipient
// blocks with Final-Recipient and Action; the failed ones are returned.
func failedRecipients(r io.Reader) []string {
	tr := textproto.NewReader(bufio.NewReader(io.LimitReader(r, 1<<20)))
	var out []string
	for i := 0; i < 100; i++ {
		h, err := tr.ReadMIMEHeader()
		if fr := h.Get("Final-Recipient"); fr != "" && strings.EqualFold(strings.TrimSpace(h.Get("Action")), "failed") {
			if _, addr, ok := strings.Cut(fr, ";"); ok {
				addr = strings.Trim(strings.TrimSpace(addr), "<>")
				if strings.Contains(addr, "@") {
					out = append(out, strings.ToLower(addr))
				}
			}
		}
		if err != nil {
			break
		}
	}
	return out
}
