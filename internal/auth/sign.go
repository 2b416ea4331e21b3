package auth

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"sort"
	"strings"
)

// Hash selects the digest of a signature: SHA-256 for API keys and cloud
// keys, SHA-1 for the legacy (CRS 2.x) date-based form.
type Hash int

const (
	SHA256 Hash = iota + 1
	SHA1
)

func (h Hash) new() hash.Hash {
	if h == SHA1 {
		return sha1.New()
	}
	return sha256.New()
}

func (h Hash) String() string {
	if h == SHA1 {
		return "SHA1"
	}
	return "SHA256"
}

// SignatureParam is the parameter that carries the signature and is therefore
// never part of the signed text.
const SignatureParam = "signature"

// Sign returns the lower-case hex signature of params: every key but
// "signature" sorted by byte order, each key followed by its value with no
// separators, then secret, hashed with h.
func Sign(params map[string]string, secret string, h Hash) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != SignatureParam {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	d := h.new()
	for _, k := range keys {
		d.Write([]byte(k))
		d.Write([]byte(params[k]))
	}
	d.Write([]byte(secret))
	return hex.EncodeToString(d.Sum(nil))
}

// CheckSignature reports whether got is the signature of params. The
// comparison is constant-time and ignores the case of the hex digits.
func CheckSignature(params map[string]string, secret string, h Hash, got string) bool {
	want := Sign(params, secret, h)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(got))) == 1
}
