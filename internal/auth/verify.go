package auth

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"
)

// Keys looks up credentials in the caller's storage. A non-nil error means
// the lookup itself failed (storage unavailable); "no such key" is ok=false.
type Keys interface {
	// APIKey returns an API key's secret and the databases it reaches.
	APIKey(ctx context.Context, apiKey string) (secret string, grants map[string]Perm, ok bool, err error)
	// CloudKey returns the database a cloud key belongs to and its secret.
	CloudKey(ctx context.Context, appKey string) (appID, secret string, ok bool, err error)
	// AppExists reports whether the database exists.
	AppExists(ctx context.Context, appID string) (bool, error)
}

// Form is the credential form a request used (API.md §2).
type Form int

const (
	FormNone     Form = iota
	FormAPIKey        // apiKey + appId + timestamp + signature, SHA-256
	FormCloudKey      // appKey + timestamp + signature, SHA-256
	FormLegacy        // appKey + date + signature, SHA-1
	FormToken         // Authorization header + appId
)

func (f Form) String() string {
	switch f {
	case FormAPIKey:
		return "apiKey"
	case FormCloudKey:
		return "cloudKey"
	case FormLegacy:
		return "legacy"
	case FormToken:
		return "token"
	}
	return "none"
}

// Request is what the verifier needs from an HTTP request: its signed
// parameters (see ParamsFromQuery, ParamsFromJSON, ParamsFromMultipart) and
// its Authorization header.
type Request struct {
	Params        map[string]string
	Authorization string
}

// Classify returns the credential form r uses. A token header takes
// precedence; then apiKey; then appKey, with timestamp (SHA-256) preferred
// over date (SHA-1).
func Classify(r Request) Form {
	if bearer(r.Authorization) != "" {
		return FormToken
	}
	if _, ok := r.Params["apiKey"]; ok {
		return FormAPIKey
	}
	if _, ok := r.Params["appKey"]; ok {
		if _, ts := r.Params["timestamp"]; !ts {
			if _, date := r.Params["date"]; date {
				return FormLegacy
			}
		}
		return FormCloudKey
	}
	return FormNone
}

// bearer strips an optional "Bearer " prefix: the API sends the raw token,
// but generic HTTP tooling adds the scheme.
func bearer(h string) string {
	h = strings.TrimSpace(h)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	}
	return h
}

// validKey reports whether s can be a key or appId at all: 1–256 printable
// ASCII characters without spaces. Anything else is "malformed" (code 1)
// without a storage lookup.
func validKey(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Verifier authenticates requests. Its fields are configuration; set them
// before first use. A Verifier is safe for concurrent use if Keys is.
type Verifier struct {
	Keys Keys
	// Tokens checks tokens; nil rejects every token with ErrInvalidToken.
	Tokens *TokenSigner
	// Skew is the accepted clock difference; zero means DefaultSkew.
	Skew time.Duration
	// Now is the server clock; nil means time.Now.
	Now func() time.Time
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) skew() time.Duration {
	if v.Skew > 0 {
		return v.Skew
	}
	return DefaultSkew
}

// Verify authenticates r and returns who made it. It does not check what the
// principal may do; see Authorize. Checks run cheapest first: shape (code 1),
// clock (3), key lookup (4), signature (2). Errors that are not *Error come
// from Keys.
func (v *Verifier) Verify(ctx context.Context, r Request) (Principal, error) {
	form := Classify(r)
	if appID, ok := r.Params["appId"]; ok && form != FormNone && !validKey(appID) {
		return Principal{}, ErrInvalidKey
	}
	switch form {
	case FormAPIKey:
		return v.verifyAPIKey(ctx, r.Params)
	case FormCloudKey, FormLegacy:
		return v.verifyCloudKey(ctx, r.Params, form)
	case FormToken:
		return v.verifyToken(ctx, r)
	}
	return Principal{}, ErrInvalidKey
}

func (v *Verifier) verifyAPIKey(ctx context.Context, params map[string]string) (Principal, error) {
	key := params["apiKey"]
	if !validKey(key) {
		return Principal{}, ErrInvalidKey
	}
	if err := CheckTimestamp(params["timestamp"], v.now(), v.skew()); err != nil {
		return Principal{}, err
	}
	secret, grants, ok, err := v.Keys.APIKey(ctx, key)
	if err != nil {
		return Principal{}, fmt.Errorf("auth: looking up api key: %w", err)
	}
	if !ok {
		return Principal{}, ErrNotExist
	}
	if !signedBy(params, secret, SHA256) {
		return Principal{}, ErrInvalidSignature
	}
	g := maps.Clone(grants)
	if g == nil {
		g = map[string]Perm{}
	}
	appID := params["appId"]
	return Principal{AppID: appID, Perm: g[appID], APIKey: key, Grants: g, Form: FormAPIKey}, nil
}

func (v *Verifier) verifyCloudKey(ctx context.Context, params map[string]string, form Form) (Principal, error) {
	key := params["appKey"]
	if !validKey(key) {
		return Principal{}, ErrInvalidKey
	}
	h := SHA256
	if form == FormLegacy {
		h = SHA1
		if err := CheckDate(params["date"], v.now(), v.skew()); err != nil {
			return Principal{}, err
		}
	} else if err := CheckTimestamp(params["timestamp"], v.now(), v.skew()); err != nil {
		return Principal{}, err
	}
	appID, secret, ok, err := v.Keys.CloudKey(ctx, key)
	if err != nil {
		return Principal{}, fmt.Errorf("auth: looking up cloud key: %w", err)
	}
	if !ok {
		return Principal{}, ErrNotExist
	}
	if !signedBy(params, secret, h) {
		return Principal{}, ErrInvalidSignature
	}
	return Principal{AppID: appID, Perm: All, Form: form}, nil
}

func (v *Verifier) verifyToken(ctx context.Context, r Request) (Principal, error) {
	if v.Tokens == nil {
		return Principal{}, ErrInvalidToken
	}
	key, tokGrants, err := v.Tokens.Check(bearer(r.Authorization), v.now())
	if err != nil {
		return Principal{}, err
	}
	// The token is self-contained, but it must die with its API key, and it
	// must not outlive a grant the key has since lost: one lookup does both.
	_, grants, ok, err := v.Keys.APIKey(ctx, key)
	if err != nil {
		return Principal{}, fmt.Errorf("auth: looking up token's api key: %w", err)
	}
	if !ok {
		return Principal{}, ErrInvalidToken
	}
	g := make(map[string]Perm, len(tokGrants))
	for app, p := range tokGrants {
		if p &= grants[app]; p != 0 {
			g[app] = p
		}
	}
	appID := r.Params["appId"]
	return Principal{AppID: appID, Perm: g[appID], APIKey: key, ViaToken: true, Grants: g, Form: FormToken}, nil
}

// signedBy checks the request's signature over all its parameters and, per
// the API's Decision, once more without "image", which some clients leave
// out of the signed set.
func signedBy(params map[string]string, secret string, h Hash) bool {
	sig := params[SignatureParam]
	if sig == "" {
		return false
	}
	if CheckSignature(params, secret, h, sig) {
		return true
	}
	if _, ok := params["image"]; !ok {
		return false
	}
	rest := maps.Clone(params)
	delete(rest, "image")
	return CheckSignature(rest, secret, h, sig)
}

// Authorize authenticates r and checks that it may use perm on the database
// it addresses: the appId parameter, or the cloud key's own database. It
// fails with ErrInvalidKey when no database is named, ErrNotExist when the
// database does not exist, and ErrForbidden when the principal lacks perm on
// it. The returned principal's AppID and Perm describe that database.
func (v *Verifier) Authorize(ctx context.Context, r Request, perm Perm) (Principal, error) {
	p, err := v.Verify(ctx, r)
	if err != nil {
		return Principal{}, err
	}
	target := r.Params["appId"]
	if target == "" {
		target = p.AppID
	}
	if target == "" {
		return Principal{}, ErrInvalidKey
	}
	// A cloud key's lookup already proved its own database exists.
	if p.Grants != nil || target != p.AppID {
		exists, err := v.Keys.AppExists(ctx, target)
		if err != nil {
			return Principal{}, fmt.Errorf("auth: looking up database: %w", err)
		}
		if !exists {
			return Principal{}, ErrNotExist
		}
	}
	if !p.Allows(target, perm) {
		return Principal{}, ErrForbidden
	}
	if p.Grants != nil {
		p.AppID, p.Perm = target, p.Grants[target]
	}
	return p, nil
}
