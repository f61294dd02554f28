package intake

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/regionhmc/websesam-intake/formparse"
)

// TestDocsOutcomeReasons: every reason the decider records is in
// docs/outcomes.md, word for word, so that what staff read in `messages
// list` is explained there.
func TestDocsOutcomeReasons(t *testing.T) {
	doc, err := os.ReadFile("../docs/outcomes.md")
	if err != nil {
		t.Fatal(err)
	}
	reasons := []string{
		reasonLoopHeader, reasonOwnMessageID, reasonAutoSubmitted, reasonPrecedence, reasonNullSender,
		reasonDaemonSender, reasonReport, reasonAutoReply, reasonSender, reasonNoSender, reasonMessageSize,
		reasonFileSize, reasonTooMany, reasonMIME, reasonCrash, reasonNoFiles, reasonNoReadable,
		reasonIncomplete, reasonValid, reasonUnrecordable,
	}
	for _, err := range []error{formparse.ErrEncrypted, formparse.ErrTooLarge, formparse.ErrMemoryLimit, formparse.ErrTimeout, formparse.ErrCrashed, errors.New("other")} {
		reasons = append(reasons, quarantineReason(err))
	}
	for _, r := range reasons {
		if !strings.Contains(string(doc), r) {
			t.Errorf("docs/outcomes.md does not explain the recorded reason %q", r)
		}
	}
}
