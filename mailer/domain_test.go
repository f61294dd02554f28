package mailer

import (
	"strings"
	"testing"
)

func TestCanonicalDomain(t *testing.T) {
	for _, tt := range []struct {
		in, want string // want "" means an error
	}{
		{"region.se", "region.se"},
		{"REGION.Se", "region.se"},
		{"sörmland.se", "xn--srmland-90a.se"},
		{"XN--SRMLAND-90A.SE", "xn--srmland-90a.se"},
		{"Straße.de", "xn--strae-oqa.de"},
		{"\u212Aommun.se", ""}, // KELVIN SIGN, not K
		{"\u017Fkola.se", ""},  // LONG S, not s
		{"SÖRMLAND.se", ""},    // upper-case non-ASCII is only valid after mapping
		{"", ""},
		{"a..se", ""},
		{"-a.se", ""},
		{"exa mple.se", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CanonicalDomain(tt.in)
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Errorf("CanonicalDomain(%q): got %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestDomainAllowed(t *testing.T) {
	allowed := []string{"kommun.se", "region.se", "sörmland.se"}
	for _, tt := range []struct {
		addr string
		want bool
	}{
		{"karin@kommun.se", true},
		{"karin@KOMMUN.SE", true},
		{"karin@xn--srmland-90a.se", true},
		{"karin@Sörmland.se", true},
		{"karin@\u212Aommun.se", false},
		{"karin@region.\u017Fe", false},
		{"karin@sub.kommun.se", false},
		{"karin@kommun.se.evil.test", false},
		{"kommun.se", false},
		{"karin@", false},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			if got := DomainAllowed(tt.addr, allowed); got != tt.want {
				t.Errorf("DomainAllowed(%q): got %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestSameAddress(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"Karin@Kommun.se", "karin@kommun.se", true},
		{"karin@sörmland.se", "karin@xn--srmland-90a.se", true},
		{"karin@kommun.se", "karin@\u212Aommun.se", false},
		{"\u212Aarin@kommun.se", "karin@kommun.se", false},
		{"karin@kommun.se", "karin2@kommun.se", false},
		{"weird@a..b", "weird@a..b", true}, // the same text is the same address
	} {
		if got := SameAddress(tt.a, tt.b); got != tt.want {
			t.Errorf("SameAddress(%q, %q): got %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestValidDomainConfig(t *testing.T) {
	cfg := testConfig()
	cfg.AllowedDomains = []string{"sörmland.se", "\u212Aommun.se"}
	err := cfg.WithDefaults().Validate()
	if err == nil {
		t.Fatal("a domain with a KELVIN SIGN was accepted")
	}
	if got, want := err.Error(), "not a domain name: \"\u212Aommun.se\""; !strings.Contains(got, want) || strings.Contains(got, "sörmland") {
		t.Errorf("got %q, want only the KELVIN SIGN domain refused", got)
	}
}
