package auth

import (
	"fmt"
	"strings"
)

// Perm is a set of permissions on one database.
type Perm uint8

const (
	Read Perm = 1 << iota
	Write

	// All is every permission; cloud keys carry it on their database.
	All = Read | Write
)

func (p Perm) String() string {
	switch p {
	case 0:
		return "NONE"
	case Read:
		return "READ"
	case Write:
		return "WRITE"
	case All:
		return "READ|WRITE"
	}
	return fmt.Sprintf("Perm(%d)", uint8(p))
}

// ParsePerm reads the ACL spelling of one permission, "READ" or "WRITE"
// (case-insensitive).
func ParsePerm(s string) (Perm, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "READ":
		return Read, nil
	case "WRITE":
		return Write, nil
	}
	return 0, fmt.Errorf("auth: unknown permission %q", s)
}

// Principal is who made an authenticated request and what it may do.
type Principal struct {
	// AppID is the database the request addresses: the cloud key's own
	// database, or the appId parameter for API keys and tokens (empty if the
	// request named none).
	AppID string
	// Perm is what the principal may do on AppID.
	Perm Perm
	// APIKey is the API key behind the request (directly or through a
	// token); empty for cloud keys.
	APIKey string
	// ViaToken is true when the request carried a token rather than a
	// signature.
	ViaToken bool
	// Form is the credential form used, for logs.
	Form Form
	// Grants is every database the API key (or token) reaches; nil for cloud
	// keys, which reach only AppID. Token issuance narrows these.
	Grants map[string]Perm
}

// Allows reports whether the principal holds every permission in perm on the
// database appID.
func (p Principal) Allows(appID string, perm Perm) bool {
	if appID == "" || perm == 0 {
		return false
	}
	if p.Grants != nil {
		return p.Grants[appID]&perm == perm
	}
	return p.AppID == appID && p.Perm&perm == perm
}
