package auth

import (
	"maps"
	"mime/multipart"
	"net/url"
	"testing"
)

func TestParamsFromQuery(t *testing.T) {
	tests := []struct {
		query string
		want  map[string]string
	}{
		{"a=1&b=2", map[string]string{"a": "1", "b": "2"}},
		{"a=1&a=2", map[string]string{"a": "1"}},
		{"a=&b", map[string]string{"a": "", "b": ""}},
		{"name=hello%20world&x=%2B", map[string]string{"name": "hello world", "x": "+"}},
		{"", map[string]string{}},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		if got := ParamsFromQuery(q); !maps.Equal(got, tt.want) {
			t.Errorf("ParamsFromQuery(%q) = %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestParamsFromMultipart(t *testing.T) {
	f := &multipart.Form{
		Value: map[string][]string{"appKey": {"k", "other"}, "empty": {}},
		File:  map[string][]*multipart.FileHeader{"image": {{Filename: "a.jpg"}}},
	}
	want := map[string]string{"appKey": "k"}
	if got := ParamsFromMultipart(f); !maps.Equal(got, want) {
		t.Errorf("ParamsFromMultipart = %v, want %v", got, want)
	}
	if got := ParamsFromMultipart(nil); len(got) != 0 {
		t.Errorf("ParamsFromMultipart(nil) = %v", got)
	}
}

func TestParamsFromJSON(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    map[string]string
		wantErr bool
	}{
		{"number stays exact", `{"timestamp":1514736000000}`, map[string]string{"timestamp": "1514736000000"}, false},
		{"string number stays string", `{"timestamp":"1514736000000","size":"20"}`,
			map[string]string{"timestamp": "1514736000000", "size": "20"}, false},
		{"number literal as sent", `{"size":20.50,"n":-3}`, map[string]string{"size": "20.50", "n": "-3"}, false},
		{"exponent to plain decimal", `{"a":1.514736e12,"b":2.5E-1,"c":1e0}`,
			map[string]string{"a": "1514736000000", "b": "0.25", "c": "1"}, false},
		{"integer beyond int64 kept exact", `{"n":123456789012345678901234567890}`,
			map[string]string{"n": "123456789012345678901234567890"}, false},
		{"booleans", `{"t":true,"f":false}`, map[string]string{"t": "true", "f": "false"}, false},
		{"null skipped", `{"meta":null,"name":"x"}`, map[string]string{"name": "x"}, false},
		{"nested compact", `{"acl":[ {"effect" : "Allow", "resource":["a"] } ],"o":{ "k" : 1 }}`,
			map[string]string{"acl": `[{"effect":"Allow","resource":["a"]}]`, "o": `{"k":1}`}, false},
		{"string escapes decoded", `{"name":"a\"b\u00e9\n"}`, map[string]string{"name": "a\"bé\n"}, false},
		{"first duplicate wins", `{"a":"1","a":"2"}`, map[string]string{"a": "1"}, false},
		{"empty object", `{}`, map[string]string{}, false},
		{"whitespace around", " \n{\"a\":\"1\"}\n ", map[string]string{"a": "1"}, false},
		{"array top level", `["a"]`, nil, true},
		{"string top level", `"a"`, nil, true},
		{"not json", `a=1`, nil, true},
		{"truncated", `{"a":"1"`, nil, true},
		{"trailing data", `{"a":"1"}{}`, nil, true},
		{"empty body", ``, nil, true},
		{"bad member value", `{"a":tru}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParamsFromJSON([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// A JSON request signed by a client over its own field values must verify
// whatever JSON type the client chose for a number.
func TestParamsFromJSONSignsLikeClient(t *testing.T) {
	want := Sign(map[string]string{"apiKey": "k", "timestamp": "1514736000000", "size": "20"}, "s", SHA256)
	for _, body := range []string{
		`{"apiKey":"k","timestamp":1514736000000,"size":20}`,
		`{"apiKey":"k","timestamp":"1514736000000","size":"20"}`,
		`{"size":20,"timestamp":"1514736000000","apiKey":"k"}`,
	} {
		p, err := ParamsFromJSON([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := Sign(p, "s", SHA256); got != want {
			t.Errorf("%s: signature %s, want %s", body, got, want)
		}
	}
}
