package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"mime/multipart"
	"net/url"
	"strings"
)

// ParamsFromQuery returns the signed parameters of a GET or DELETE request.
// When a key repeats, the first value wins (API.md §1).
func ParamsFromQuery(q url.Values) map[string]string {
	return firstValues(q)
}

// ParamsFromMultipart returns the signed parameters of a multipart form: its
// text fields, first value winning. File parts are not signed.
func ParamsFromMultipart(f *multipart.Form) map[string]string {
	if f == nil {
		return map[string]string{}
	}
	return firstValues(f.Value)
}

func firstValues(v map[string][]string) map[string]string {
	m := make(map[string]string, len(v))
	for k, vs := range v {
		if len(vs) > 0 {
			m[k] = vs[0]
		}
	}
	return m
}

// ParamsFromJSON returns the signed parameters of a JSON request body: its
// top-level members rendered as text the way a client concatenating them
// would have seen them.
//
//   - strings: their decoded value ("20" stays "20");
//   - numbers: the literal as sent (1514736000000 stays exact, 20.5 stays
//     "20.5"); a literal with an exponent is rewritten in plain decimal,
//     because the API signs numbers in plain decimal;
//   - booleans: "true" / "false";
//   - objects and arrays: their compact JSON text;
//   - null: the member is skipped, as if absent. Clients that mean "no value"
//     omit the member; treating null the same keeps one meaning for both.
//
// A repeated member keeps its first value, like a repeated query key. The
// body must be a single JSON object.
func ParamsFromJSON(body []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("auth: reading JSON body: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("auth: JSON body is not an object")
	}
	m := make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("auth: reading JSON body: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("auth: JSON body: member name is not a string")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("auth: reading JSON member %q: %w", key, err)
		}
		if _, dup := m[key]; dup {
			continue
		}
		v, present, err := jsonText(raw)
		if err != nil {
			return nil, fmt.Errorf("auth: reading JSON member %q: %w", key, err)
		}
		if present {
			m[key] = v
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("auth: reading JSON body: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("auth: JSON body has data after the object")
	}
	return m, nil
}

// jsonText renders one JSON value as signed text; present is false for null.
func jsonText(raw json.RawMessage) (text string, present bool, err error) {
	switch raw[0] {
	case 'n':
		return "", false, nil
	case 't', 'f':
		return string(raw), true, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return "", false, err
		}
		return b.String(), true, nil
	default:
		return plainDecimal(string(raw))
	}
}

// plainDecimal rewrites a JSON number with an exponent (1.5e3) in plain
// decimal (1500); other literals are returned unchanged so that what the
// client sent is what is signed.
func plainDecimal(lit string) (string, bool, error) {
	if !strings.ContainsAny(lit, "eE") {
		return lit, true, nil
	}
	f, _, err := big.ParseFloat(lit, 10, 256, big.ToNearestEven)
	if err != nil {
		return "", false, fmt.Errorf("number %s: %w", lit, err)
	}
	if f.IsInt() {
		i, _ := f.Int(nil)
		return i.String(), true, nil
	}
	return f.Text('f', -1), true, nil
}
