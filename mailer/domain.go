package mailer

import (
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// Domains are compared in one way only, here: as lower-case ASCII after IDNA
// conversion. strings.EqualFold would fold Unicode: U+212A KELVIN SIGN would
// count as "k" and U+017F LONG S as "s", so "\u212Aommun.se" would pass for
// kommun.se. idna.Lookup maps those characters the same way (UTS 46), so
// the conversion uses the registration profile, which refuses them: only
// ASCII letters are lower-cased first, and any other character must already
// be valid in a domain name as it stands.

// CanonicalDomain returns domain as it is compared: ASCII letters lower-cased,
// labels with other letters converted to their "xn--" form. A text that is
// not a domain name under IDNA 2008 (an empty label, a space, a character
// that is only valid after mapping, such as "K" KELVIN SIGN, "ſ" or an
// upper-case "Ö") is an error.
func CanonicalDomain(domain string) (string, error) {
	a, err := idna.Registration.ToASCII(asciiLower(domain))
	if err != nil || a == "" {
		return "", fmt.Errorf("read domain %q: not a domain name: %v", domain, err)
	}
	return asciiLower(a), nil
}

// ValidDomain reports whether d may be listed as an allowed domain: a
// domain name CanonicalDomain reads whose ASCII form is letters, digits,
// hyphens and dots, with no empty label. "sörmland.se" and
// "xn--srmland-90a.se" are both valid, and the same domain.
func ValidDomain(d string) bool {
	a, err := CanonicalDomain(d)
	return err == nil && validDomain(a)
}

// SameDomain reports whether a and b are the same domain (CanonicalDomain);
// a text that is not a domain name matches nothing.
func SameDomain(a, b string) bool {
	ca, err := CanonicalDomain(a)
	if err != nil {
		return false
	}
	cb, err := CanonicalDomain(b)
	return err == nil && ca == cb
}

// AddressDomain returns the domain of a bare address (after its last "@"),
// as written; "" when there is none.
func AddressDomain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return addr[i+1:]
}

// DomainAllowed reports whether addr's domain is one of domains (SameDomain;
// a subdomain does not match unless listed).
func DomainAllowed(addr string, domains []string) bool {
	d, err := CanonicalDomain(AddressDomain(addr))
	if err != nil {
		return false
	}
	for _, a := range domains {
		if ca, err := CanonicalDomain(a); err == nil && ca == d {
			return true
		}
	}
	return false
}

// SameAddress reports whether a and b are one mailbox: the local parts equal
// up to ASCII letter case (what every relay we write to treats as one
// mailbox), the domains the same by SameDomain.
func SameAddress(a, b string) bool {
	if asciiLower(a) == asciiLower(b) {
		return true
	}
	i, j := strings.LastIndexByte(a, '@'), strings.LastIndexByte(b, '@')
	if i < 0 || j < 0 {
		return false
	}
	return asciiLower(a[:i]) == asciiLower(b[:j]) && SameDomain(a[i+1:], b[j+1:])
}

// asciiLower lower-cases the ASCII letters of s and nothing else.
func asciiLower(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			if b == nil {
				b = []byte(s)
			}
			b[i] = c + 'a' - 'A'
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}
