package staffapi

// The local staff calls complete requests and search them, which needs the
// form's register and search rules in the store (store.SetFieldRules, done
// by this import).
import _ "github.com/regionhmc/websesam-intake/intake/register"
