package intake

// The store learns the form's search and register rules from this import
// (store.SetFieldRules in its init): every program and test that runs the
// daemon or its staff API has them.
import _ "github.com/regionhmc/websesam-intake/intake/register"
