package intake

import (
	"fmt"

	"github.com/BurntSushi/toml"

	"github.com/regionhmc/websesam-intake/mailer"
)

// StaffComposer builds the notice composer from the [mailer] section of the
// daemon's configuration file, for staff commands run while the daemon is
// stopped. Unlike LoadConfig it does not check the IMAP and SMTP secrets:
// staff cannot read them and composing does not need them. Problems wrap
// ErrConfig (exit status 2).
func StaffComposer(path string) (*mailer.Composer, error) {
	var c Config
	if _, err := toml.DecodeFile(path, &c); err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrConfig, path, err)
	}
	comp, err := mailer.NewComposer(c.WithDefaults().Mailer)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	return comp, nil
}
