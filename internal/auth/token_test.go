package auth

import (
	"encoding/base64"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestNarrowGrants(t *testing.T) {
	have := map[string]Perm{"a": All, "b": Read, "c": Write}
	tests := []struct {
		name    string
		acl     string
		want    map[string]Perm
		wantErr bool
	}{
		{"no acl keeps grants", ``, have, false},
		{"empty array keeps grants", `[]`, have, false},
		{"allow narrows to one database", `[{"service":"ecs:crs","effect":"Allow","resource":["a"],"permission":["READ"]}]`,
			map[string]Perm{"a": Read}, false},
		{"allow cannot widen", `[{"service":"ecs:crs","effect":"Allow","resource":["b","zzz"],"permission":["READ","WRITE"]}]`,
			map[string]Perm{"b": Read}, false},
		{"allow without permission means both", `[{"effect":"Allow","resource":["a","c"]}]`,
			map[string]Perm{"a": All, "c": Write}, false},
		{"allow star", `[{"effect":"allow","resource":["*"],"permission":["read"]}]`,
			map[string]Perm{"a": Read, "b": Read}, false},
		{"allows union", `[{"effect":"Allow","resource":["a"],"permission":["WRITE"]},{"effect":"Allow","resource":["a"],"permission":["READ"]}]`,
			map[string]Perm{"a": All}, false},
		{"deny removes", `[{"service":"ecs:crs","effect":"Deny","resource":["a"],"permission":["WRITE"]}]`,
			map[string]Perm{"a": Read, "b": Read, "c": Write}, false},
		{"deny whole database", `[{"effect":"Deny","resource":["a","c"]}]`,
			map[string]Perm{"b": Read}, false},
		{"deny beats allow", `[{"effect":"Allow","resource":["*"]},{"effect":"Deny","resource":["*"],"permission":["WRITE"]}]`,
			map[string]Perm{"a": Read, "b": Read}, false},
		{"bad effect", `[{"effect":"Maybe","resource":["a"]}]`, nil, true},
		{"bad service", `[{"service":"ecs:other","effect":"Allow","resource":["a"]}]`, nil, true},
		{"bad permission", `[{"effect":"Allow","resource":["a"],"permission":["ADMIN"]}]`, nil, true},
		{"no resource", `[{"effect":"Allow","permission":["READ"]}]`, nil, true},
		{"not an array", `{"effect":"Allow"}`, nil, true},
		{"not json", `allow all`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acl, err := ParseACL(tt.acl)
			if err == nil {
				var got map[string]Perm
				got, err = NarrowGrants(have, acl)
				if err == nil && !maps.Equal(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestTokenIssueCheck(t *testing.T) {
	now := time.UnixMilli(1514736000000)
	s := mustSigner(t, "server-token-secret-0123456789")
	other := mustSigner(t, "another-token-secret-0123456789")
	grants := map[string]Perm{"a": All, "b": Read}
	tok, err := s.Issue("key1", grants, []ACLStatement{{Effect: "Deny", Resource: []string{"b"}}}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(time.Hour); !tok.Expiration.Equal(want) {
		t.Errorf("Expiration = %v, want %v", tok.Expiration, want)
	}
	if !maps.Equal(tok.Grants, map[string]Perm{"a": All}) {
		t.Errorf("Grants = %v", tok.Grants)
	}
	payload, mac, _ := strings.Cut(tok.Token, ".")
	forgedPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"k":"key1","g":{"a":3,"b":3},"e":99999999999999}`))

	tests := []struct {
		name   string
		signer *TokenSigner
		token  string
		at     time.Time
		ok     bool
	}{
		{"valid", s, tok.Token, now, true},
		{"valid just before expiry", s, tok.Token, now.Add(time.Hour - time.Millisecond), true},
		{"expired at expiry", s, tok.Token, now.Add(time.Hour), false},
		{"expired later", s, tok.Token, now.Add(48 * time.Hour), false},
		{"other server secret", other, tok.Token, now, false},
		{"forged payload", s, forgedPayload + "." + mac, now, false},
		{"mac flipped", s, payload + "." + flip(mac), now, false},
		{"no dot", s, payload, now, false},
		{"empty", s, "", now, false},
		{"garbage", s, "not.a.token", now, false},
		{"bad base64 mac", s, payload + ".!!!", now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, g, err := tt.signer.Check(tt.token, tt.at)
			if (err == nil) != tt.ok {
				t.Fatalf("Check = %v, want ok %v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidToken) {
					t.Errorf("err = %v, want ErrInvalidToken", err)
				}
				return
			}
			if key != "key1" || !maps.Equal(g, tok.Grants) {
				t.Errorf("Check = %q %v", key, g)
			}
		})
	}
}

func TestTokenIssueErrors(t *testing.T) {
	s := mustSigner(t, "server-token-secret-0123456789")
	now := time.Now()
	tests := []struct {
		name    string
		key     string
		acl     []ACLStatement
		expires time.Duration
	}{
		{"zero lifetime", "k", nil, 0},
		{"negative lifetime", "k", nil, -time.Second},
		{"too long", "k", nil, MaxTokenLifetime + time.Second},
		{"bad key", "", nil, time.Hour},
		{"bad acl", "k", []ACLStatement{{Effect: "Perhaps", Resource: []string{"a"}}}, time.Hour},
	}
	for _, tt := range tests {
		if _, err := s.Issue(tt.key, map[string]Perm{"a": All}, tt.acl, tt.expires, now); err == nil {
			t.Errorf("%s: Issue succeeded", tt.name)
		}
	}
	if _, err := NewTokenSigner([]byte("short")); err == nil {
		t.Error("NewTokenSigner accepted a short secret")
	}
}

func mustSigner(t *testing.T, secret string) *TokenSigner {
	t.Helper()
	s, err := NewTokenSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
