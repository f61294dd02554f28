package endpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/emersion/go-sasl"
)

// ErrRefused marks a credential the issuer refused: the OAuth2 token
// endpoint said the client id, secret or certificate is wrong. The caller
// treats it as a refused login (the growing back-off), not as an outage.
var ErrRefused = errors.New("credential refused by the token issuer")

// TokenSource gives OAuth2 access tokens. A token is cached and renewed
// before it expires; renew asks for a new one even when the cached token
// looks valid, because the mail server has just refused it.
type TokenSource interface {
	Token(ctx context.Context, renew bool) (string, error)
}

// Credentials is what a login presents, read afresh at every login so that
// a rotated password or token is picked up without a restart. Secrets are
// never logged and never written anywhere.
type Credentials struct {
	cfg    Config
	tokens TokenSource
}

// Credentials returns c's login secret. tokens is the built-in OAuth2
// client, used by an OAuth mechanism that has neither token_file nor
// token_command; it may be nil otherwise.
func (c Config) Credentials(tokens TokenSource) *Credentials {
	return &Credentials{cfg: c, tokens: tokens}
}

// Renewable tells whether asking again with renew may give a different
// token (the built-in OAuth2 client), so that a refused login is worth one
// immediate retry.
func (cr *Credentials) Renewable() bool {
	return cr != nil && IsOAuth(cr.cfg.Auth) && cr.usesOAuth2()
}

func (cr *Credentials) usesOAuth2() bool {
	return cr.tokens != nil && cr.cfg.TokenFile == "" && len(cr.cfg.TokenCommand) == 0
}

// Secret is the password or access token. A token command runs under the
// token timeout, its stderr is not shown (it might hold the secret), and an
// empty output is refused rather than sent; so is an empty token file.
func (cr *Credentials) Secret(ctx context.Context, renew bool) (string, error) {
	c := cr.cfg
	switch {
	case c.Auth == AuthNone:
		return "", nil
	case IsOAuth(c.Auth) && len(c.TokenCommand) > 0:
		timeout := c.TokenTimeout
		if timeout <= 0 {
			timeout = DefaultTokenTimeout
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, c.TokenCommand[0], c.TokenCommand[1:]...)
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return "", fmt.Errorf("run token command %s: no token within %s", c.TokenCommand[0], timeout)
			}
			return "", fmt.Errorf("run token command %s: %w", c.TokenCommand[0], err)
		}
		tok := strings.TrimSpace(out.String())
		if tok == "" {
			return "", fmt.Errorf("run token command %s: it printed no token", c.TokenCommand[0])
		}
		return tok, nil
	case IsOAuth(c.Auth) && c.TokenFile != "":
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return "", fmt.Errorf("read token file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("read token file %s: it holds no token", c.TokenFile)
		}
		return tok, nil
	case IsOAuth(c.Auth):
		if cr.tokens == nil {
			return "", errors.New("get an access token: no token_file, token_command or [oauth2] configured")
		}
		return cr.tokens.Token(ctx, renew)
	default:
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}

// TokenClient is the SASL client of an OAuth mechanism (xoauth2 or
// oauthbearer) for user with token. Unlike go-sasl's OAUTHBEARER client it
// answers the server's error challenge as RFC 7628 asks (a single 0x01), so
// the server ends the exchange with a refusal instead of waiting.
func TokenClient(mech, user, token string) sasl.Client {
	return tokenClient{mech: mech, user: user, token: token}
}

type tokenClient struct{ mech, user, token string }

func (c tokenClient) Start() (string, []byte, error) {
	if c.mech == AuthOAuthBearer {
		return sasl.OAuthBearer, []byte("n,a=" + c.user + ",\x01auth=Bearer " + c.token + "\x01\x01"), nil
	}
	return "XOAUTH2", XOAUTH2(c.user, c.token), nil
}

// Next answers the error challenge (JSON) that follows a refused token.
func (c tokenClient) Next([]byte) ([]byte, error) {
	if c.mech == AuthOAuthBearer {
		return []byte{0x01}, nil
	}
	return []byte{}, nil
}

// XOAUTH2 is the initial response of the SASL XOAUTH2 mechanism of Google
// and Microsoft: the user and the bearer token. On failure the server sends
// a JSON challenge, to be answered with an empty response.
func XOAUTH2(user, token string) []byte {
	return []byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01")
}
