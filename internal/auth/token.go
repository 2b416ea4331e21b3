package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ServiceCRS is the only service an ACL statement may name.
const ServiceCRS = "ecs:crs"

// MaxTokenLifetime bounds the expires of a token. A token cannot be revoked
// on its own (only by deleting its API key), so its life is kept finite.
const MaxTokenLifetime = 30 * 24 * time.Hour

// ACLStatement is one statement of a token request's "acl" (API.md §2).
type ACLStatement struct {
	Service    string   `json:"service"`
	Effect     string   `json:"effect"`     // "Allow" or "Deny"
	Resource   []string `json:"resource"`   // appIds; "*" is every database
	Permission []string `json:"permission"` // "READ", "WRITE"; empty is both
}

// ParseACL reads the "acl" parameter: a JSON array of statements. Empty
// text means no ACL. The result is validated; errors are the client's
// (statusCode 414).
func ParseACL(s string) ([]ACLStatement, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var acl []ACLStatement
	if err := json.Unmarshal([]byte(s), &acl); err != nil {
		return nil, fmt.Errorf("auth: acl: %w", err)
	}
	for i, st := range acl {
		if _, _, err := st.compile(); err != nil {
			return nil, fmt.Errorf("auth: acl statement %d: %w", i, err)
		}
	}
	return acl, nil
}

// compile validates the statement and returns whether it allows and the
// permissions it names.
func (st ACLStatement) compile() (allow bool, perm Perm, err error) {
	if st.Service != "" && st.Service != ServiceCRS {
		return false, 0, fmt.Errorf("service %q is not %q", st.Service, ServiceCRS)
	}
	switch strings.ToLower(st.Effect) {
	case "allow":
		allow = true
	case "deny":
	default:
		return false, 0, fmt.Errorf("effect %q is neither Allow nor Deny", st.Effect)
	}
	if len(st.Resource) == 0 {
		return false, 0, errors.New("no resource")
	}
	for _, s := range st.Permission {
		p, err := ParsePerm(s)
		if err != nil {
			return false, 0, err
		}
		perm |= p
	}
	if len(st.Permission) == 0 {
		perm = All
	}
	return allow, perm, nil
}

func (st ACLStatement) covers(appID string) bool {
	for _, r := range st.Resource {
		if r == appID || r == "*" {
			return true
		}
	}
	return false
}

// NarrowGrants applies acl to what an API key holds. With no Allow statement
// the key's grants are the starting point; otherwise each database keeps only
// what some Allow statement names. Deny statements then remove what they
// name. The result never exceeds grants.
func NarrowGrants(grants map[string]Perm, acl []ACLStatement) (map[string]Perm, error) {
	type rule struct {
		st    ACLStatement
		allow bool
		perm  Perm
	}
	rules := make([]rule, 0, len(acl))
	anyAllow := false
	for i, st := range acl {
		allow, perm, err := st.compile()
		if err != nil {
			return nil, fmt.Errorf("auth: acl statement %d: %w", i, err)
		}
		anyAllow = anyAllow || allow
		rules = append(rules, rule{st, allow, perm})
	}
	out := make(map[string]Perm, len(grants))
	for app, have := range grants {
		p := have
		if anyAllow {
			p = 0
			for _, r := range rules {
				if r.allow && r.st.covers(app) {
					p |= have & r.perm
				}
			}
		}
		for _, r := range rules {
			if !r.allow && r.st.covers(app) {
				p &^= r.perm
			}
		}
		if p != 0 {
			out[app] = p
		}
	}
	return out, nil
}

// Token is an issued access token.
type Token struct {
	Token      string
	APIKey     string
	Expires    time.Duration // lifetime as requested
	Expiration time.Time     // when it stops working
	Grants     map[string]Perm
}

// claims is the signed payload of a token. Field names are short because the
// token travels in every request header.
type claims struct {
	Version int             `json:"v"`
	APIKey  string          `json:"k"`
	Grants  map[string]Perm `json:"g"`
	Expiry  int64           `json:"e"` // Unix ms
}

const tokenVersion = 1

// TokenSigner issues and checks tokens under one server secret. A token is
// base64url(claims JSON) "." base64url(HMAC-SHA256(secret, first part)), so
// it can be checked without storage.
type TokenSigner struct {
	secret []byte
}

// NewTokenSigner returns a signer using secret, which should be at least 32
// random bytes kept by the server across restarts (tokens issued under
// another secret are rejected).
func NewTokenSigner(secret []byte) (*TokenSigner, error) {
	if len(secret) < 16 {
		return nil, errors.New("auth: token secret shorter than 16 bytes")
	}
	return &TokenSigner{secret: append([]byte(nil), secret...)}, nil
}

// Issue returns a token for apiKey reaching grants narrowed by acl, valid for
// expires from now. An expires outside (0, MaxTokenLifetime] or an invalid
// acl is the client's error (statusCode 414).
func (s *TokenSigner) Issue(apiKey string, grants map[string]Perm, acl []ACLStatement, expires time.Duration, now time.Time) (Token, error) {
	if expires <= 0 || expires > MaxTokenLifetime {
		return Token{}, fmt.Errorf("auth: token lifetime %v outside (0, %v]", expires, MaxTokenLifetime)
	}
	if !validKey(apiKey) {
		return Token{}, fmt.Errorf("auth: malformed api key %q", apiKey)
	}
	narrowed, err := NarrowGrants(grants, acl)
	if err != nil {
		return Token{}, err
	}
	exp := now.Add(expires)
	payload, err := json.Marshal(claims{tokenVersion, apiKey, narrowed, exp.UnixMilli()})
	if err != nil {
		return Token{}, fmt.Errorf("auth: encoding token: %w", err)
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return Token{
		Token:      p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p)),
		APIKey:     apiKey,
		Expires:    expires,
		Expiration: exp,
		Grants:     narrowed,
	}, nil
}

func (s *TokenSigner) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Check verifies token at now and returns its API key and grants. Any
// malformed, forged or expired token yields ErrInvalidToken.
func (s *TokenSigner) Check(token string, now time.Time) (apiKey string, grants map[string]Perm, err error) {
	p, sig, ok := strings.Cut(strings.TrimSpace(token), ".")
	if !ok {
		return "", nil, ErrInvalidToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return "", nil, ErrInvalidToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return "", nil, ErrInvalidToken
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil || c.Version != tokenVersion || !validKey(c.APIKey) {
		return "", nil, ErrInvalidToken
	}
	if now.UnixMilli() >= c.Expiry {
		return "", nil, ErrInvalidToken
	}
	if c.Grants == nil {
		c.Grants = map[string]Perm{}
	}
	return c.APIKey, c.Grants, nil
}
