package auth

import (
	"strings"
	"testing"
)

func TestSign(t *testing.T) {
	vector := map[string]string{"foo": "bar", "egg": "spam", "timestamp": "1514736000000", "apiKey": "test_api_key"}
	tests := []struct {
		name   string
		params map[string]string
		secret string
		hash   Hash
		want   string
	}{
		{"API.md test vector", vector, "test_api_secret", SHA256,
			"bf67314ff91f39952a267fb4bf3f9ed2b53f813cdcfba610f9d8643038a17326"},
		{"signature excluded", with(vector, "signature", "whatever"), "test_api_secret", SHA256,
			"bf67314ff91f39952a267fb4bf3f9ed2b53f813cdcfba610f9d8643038a17326"},
		// sha256sum / sha1sum of "a1b2s": keys sorted, no separators.
		{"order and sha256", map[string]string{"b": "2", "a": "1"}, "s", SHA256,
			"de8912998fe0fa8eab11f0cb9cb953f29867394bb47955a3b1279b1cc7176f30"},
		{"sha1", map[string]string{"b": "2", "a": "1"}, "s", SHA1,
			"b7e3cf4c6d518bae56ebca90aa9d258352403b7f"},
		{"byte order puts upper case first", map[string]string{"a": "1", "B": "2"}, "", SHA256,
			Sign(map[string]string{"B": "2", "a": "1"}, "", SHA256)},
		{"empty", map[string]string{}, "", SHA256,
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(tt.params, tt.secret, tt.hash); got != tt.want {
				t.Errorf("Sign = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCheckSignature(t *testing.T) {
	p := map[string]string{"foo": "bar", "egg": "spam", "timestamp": "1514736000000", "apiKey": "test_api_key"}
	good := "bf67314ff91f39952a267fb4bf3f9ed2b53f813cdcfba610f9d8643038a17326"
	tests := []struct {
		name string
		got  string
		hash Hash
		want bool
	}{
		{"lower", good, SHA256, true},
		{"upper", strings.ToUpper(good), SHA256, true},
		{"one digit off", good[:63] + "7", SHA256, false},
		{"truncated", good[:62], SHA256, false},
		{"empty", "", SHA256, false},
		{"wrong hash", good, SHA1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckSignature(p, "test_api_secret", tt.hash, tt.got); got != tt.want {
				t.Errorf("CheckSignature = %v, want %v", got, tt.want)
			}
		})
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func without(m map[string]string, keys ...string) map[string]string {
	out := with(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}
