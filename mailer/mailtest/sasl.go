package mailtest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// SASLServer is the server side of mech (PLAIN, LOGIN, XOAUTH2 or
// OAUTHBEARER) handing the user name and the password or bearer token to
// check. go-sasl has no server for LOGIN and XOAUTH2; the IMAP and SMTP
// test servers share these.
func SASLServer(mech string, check func(user, secret string) error) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	case "XOAUTH2":
		return xoauth2Server(func(resp []byte) error {
			user, token, err := ParseXOAUTH2(resp)
			if err != nil {
				return err
			}
			return check(user, token)
		}), nil
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if check(o.Username, o.Token) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
			}
			return nil
		}), nil
	}
	return nil, fmt.Errorf("mechanism %s not offered", mech)
}

// ParseXOAUTH2 reads a client's XOAUTH2 response,
// user=<user>\x01auth=Bearer <token>\x01\x01.
func ParseXOAUTH2(resp []byte) (user, token string, err error) {
	var haveUser, haveToken bool
	for _, kv := range strings.Split(string(resp), "\x01") {
		switch {
		case strings.HasPrefix(kv, "user="):
			user, haveUser = kv[len("user="):], true
		case strings.HasPrefix(kv, "auth=Bearer "):
			token, haveToken = kv[len("auth=Bearer "):], true
		}
	}
	if !haveUser || !haveToken {
		return "", "", errors.New("malformed XOAUTH2 response")
	}
	return user, token, nil
}

// loginServer is the server side of LOGIN.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if resp != nil {
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// xoauth2Server is the server side of XOAUTH2.
type xoauth2Server func(resp []byte) error

func (f xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if resp == nil {
		return []byte{}, false, nil
	}
	return nil, true, f(resp)
}
