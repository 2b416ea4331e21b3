package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

type apiKey struct {
	secret string
	grants map[string]Perm
}

type cloudKey struct{ appID, secret string }

// fakeKeys is an in-memory Keys; fail makes every lookup a storage error.
type fakeKeys struct {
	api   map[string]apiKey
	cloud map[string]cloudKey
	apps  map[string]bool
	fail  error
}

func (f *fakeKeys) APIKey(_ context.Context, key string) (string, map[string]Perm, bool, error) {
	if f.fail != nil {
		return "", nil, false, f.fail
	}
	k, ok := f.api[key]
	return k.secret, k.grants, ok, nil
}

func (f *fakeKeys) CloudKey(_ context.Context, key string) (string, string, bool, error) {
	if f.fail != nil {
		return "", "", false, f.fail
	}
	k, ok := f.cloud[key]
	return k.appID, k.secret, ok, nil
}

func (f *fakeKeys) AppExists(_ context.Context, app string) (bool, error) {
	if f.fail != nil {
		return false, f.fail
	}
	return f.apps[app], nil
}

var errStorage = errors.New("storage down")

func testKeys() *fakeKeys {
	return &fakeKeys{
		api: map[string]apiKey{
			"rw":   {"rw-secret", map[string]Perm{"app1": All, "app2": Read}},
			"gone": {"gone-secret", map[string]Perm{"app1": All}},
		},
		cloud: map[string]cloudKey{"ck1": {"app1", "ck1-secret"}},
		apps:  map[string]bool{"app1": true, "app2": true, "app3": true},
	}
}

var testNow = time.UnixMilli(1514736000000).UTC()

func signed(params map[string]string, secret string, h Hash) map[string]string {
	out := with(params)
	out[SignatureParam] = Sign(params, secret, h)
	return out
}

func apiReq(key, secret, app string, extra ...string) map[string]string {
	p := with(map[string]string{"apiKey": key, "timestamp": strconv.FormatInt(testNow.UnixMilli(), 10)}, extra...)
	if app != "" {
		p["appId"] = app
	}
	return signed(p, secret, SHA256)
}

func TestVerifyAndAuthorize(t *testing.T) {
	signer := mustSigner(t, "server-token-secret-0123456789")
	token := func(key string, grants map[string]Perm, acl []ACLStatement, life time.Duration) string {
		tok, err := signer.Issue(key, grants, acl, life, testNow.Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	fullToken := token("rw", map[string]Perm{"app1": All, "app2": Read}, nil, time.Hour)
	readToken := token("rw", map[string]Perm{"app1": All, "app2": Read},
		[]ACLStatement{{Effect: "Allow", Resource: []string{"app1"}, Permission: []string{"READ"}}}, time.Hour)
	// Claims app3, which the key was never granted: the key's current grants cap it.
	widerToken := token("rw", map[string]Perm{"app1": All, "app3": All}, nil, time.Hour)
	expiredToken := token("rw", map[string]Perm{"app1": All}, nil, 30*time.Second)
	deletedKeyToken := token("deleted", map[string]Perm{"app1": All}, nil, time.Hour)

	ts := strconv.FormatInt(testNow.UnixMilli(), 10)
	skewed := strconv.FormatInt(testNow.Add(6*time.Minute).UnixMilli(), 10)
	img := map[string]string{"apiKey": "rw", "appId": "app1", "timestamp": ts, "image": "aGVsbG8="}

	tests := []struct {
		name    string
		params  map[string]string
		authz   string
		perm    Perm
		keys    *fakeKeys
		wantErr error // nil: success; errStorage: a non-*Error storage error
		wantApp string
		form    Form
	}{
		// API key form.
		{name: "api key read", params: apiReq("rw", "rw-secret", "app1"), perm: Read, wantApp: "app1", form: FormAPIKey},
		{name: "api key write", params: apiReq("rw", "rw-secret", "app1"), perm: Write, wantApp: "app1", form: FormAPIKey},
		{name: "api key upper-case signature", params: upperSig(apiReq("rw", "rw-secret", "app1")), perm: Read, wantApp: "app1", form: FormAPIKey},
		{name: "api key extra params signed", params: apiReq("rw", "rw-secret", "app1", "name", "x", "size", "20"), perm: Write, wantApp: "app1", form: FormAPIKey},
		{name: "image in signature", params: signed(img, "rw-secret", SHA256), perm: Write, wantApp: "app1", form: FormAPIKey},
		{name: "image left out of signature", params: with(img, SignatureParam, Sign(without(img, "image"), "rw-secret", SHA256)), perm: Write, wantApp: "app1", form: FormAPIKey},
		{name: "api key lacks write", params: apiReq("rw", "rw-secret", "app2"), perm: Write, wantErr: ErrForbidden},
		{name: "api key not granted database", params: apiReq("rw", "rw-secret", "app3"), perm: Read, wantErr: ErrForbidden},
		{name: "api key unknown database", params: apiReq("rw", "rw-secret", "nope"), perm: Read, wantErr: ErrNotExist},
		{name: "api key no appId", params: apiReq("rw", "rw-secret", ""), perm: Read, wantErr: ErrInvalidKey},
		{name: "api key malformed appId", params: apiReq("rw", "rw-secret", "app 1"), perm: Read, wantErr: ErrInvalidKey},
		{name: "api key unknown", params: apiReq("nokey", "x", "app1"), perm: Read, wantErr: ErrNotExist},
		{name: "api key empty", params: apiReq("", "x", "app1"), perm: Read, wantErr: ErrInvalidKey},
		{name: "api key malformed", params: apiReq("k\x01", "x", "app1"), perm: Read, wantErr: ErrInvalidKey},
		{name: "api key wrong secret", params: apiReq("rw", "wrong", "app1"), perm: Read, wantErr: ErrInvalidSignature},
		{name: "api key signature missing", params: without(apiReq("rw", "rw-secret", "app1"), SignatureParam), perm: Read, wantErr: ErrInvalidSignature},
		{name: "api key tampered param", params: with(apiReq("rw", "rw-secret", "app1", "name", "x"), "name", "y"), perm: Read, wantErr: ErrInvalidSignature},
		{name: "image tampered", params: with(signed(img, "rw-secret", SHA256), "name", "added"), perm: Write, wantErr: ErrInvalidSignature},
		{name: "api key timestamp missing", params: signed(map[string]string{"apiKey": "rw", "appId": "app1"}, "rw-secret", SHA256), perm: Read, wantErr: ErrInvalidDate},
		{name: "api key timestamp skewed", params: signed(map[string]string{"apiKey": "rw", "appId": "app1", "timestamp": skewed}, "rw-secret", SHA256), perm: Read, wantErr: ErrInvalidDate},
		{name: "api key storage down", params: apiReq("rw", "rw-secret", "app1"), perm: Read, keys: &fakeKeys{fail: errStorage}, wantErr: errStorage},

		// Cloud key form.
		{name: "cloud key", params: signed(map[string]string{"appKey": "ck1", "timestamp": ts}, "ck1-secret", SHA256), perm: Write, wantApp: "app1", form: FormCloudKey},
		{name: "cloud key own appId", params: signed(map[string]string{"appKey": "ck1", "appId": "app1", "timestamp": ts}, "ck1-secret", SHA256), perm: Write, wantApp: "app1", form: FormCloudKey},
		{name: "cloud key other database", params: signed(map[string]string{"appKey": "ck1", "appId": "app2", "timestamp": ts}, "ck1-secret", SHA256), perm: Read, wantErr: ErrForbidden},
		{name: "cloud key sha1 refused", params: signed(map[string]string{"appKey": "ck1", "timestamp": ts}, "ck1-secret", SHA1), perm: Read, wantErr: ErrInvalidSignature},
		{name: "cloud key unknown", params: signed(map[string]string{"appKey": "ck9", "timestamp": ts}, "x", SHA256), perm: Read, wantErr: ErrNotExist},
		{name: "cloud key no clock", params: signed(map[string]string{"appKey": "ck1"}, "ck1-secret", SHA256), perm: Read, wantErr: ErrInvalidDate},
		{name: "cloud key skewed", params: signed(map[string]string{"appKey": "ck1", "timestamp": skewed}, "ck1-secret", SHA256), perm: Read, wantErr: ErrInvalidDate},
		{name: "cloud key storage down", params: signed(map[string]string{"appKey": "ck1", "timestamp": ts}, "ck1-secret", SHA256), perm: Read, keys: &fakeKeys{fail: errStorage}, wantErr: errStorage},

		// Legacy form.
		{name: "legacy", params: signed(map[string]string{"appKey": "ck1", "date": "2017-12-31T16:00:00.000Z"}, "ck1-secret", SHA1), perm: Write, wantApp: "app1", form: FormLegacy},
		{name: "legacy no millis", params: signed(map[string]string{"appKey": "ck1", "date": "2017-12-31T16:03:00Z"}, "ck1-secret", SHA1), perm: Read, wantApp: "app1", form: FormLegacy},
		{name: "legacy sha256 refused", params: signed(map[string]string{"appKey": "ck1", "date": "2017-12-31T16:00:00.000Z"}, "ck1-secret", SHA256), perm: Read, wantErr: ErrInvalidSignature},
		{name: "legacy skewed", params: signed(map[string]string{"appKey": "ck1", "date": "2017-12-31T16:06:00.000Z"}, "ck1-secret", SHA1), perm: Read, wantErr: ErrInvalidDate},
		{name: "legacy bad date", params: signed(map[string]string{"appKey": "ck1", "date": "yesterday"}, "ck1-secret", SHA1), perm: Read, wantErr: ErrInvalidDate},

		// Token form.
		{name: "token", params: map[string]string{"appId": "app1"}, authz: fullToken, perm: Write, wantApp: "app1", form: FormToken},
		{name: "token bearer prefix", params: map[string]string{"appId": "app1"}, authz: "Bearer " + fullToken, perm: Write, wantApp: "app1", form: FormToken},
		{name: "token narrowed allows read", params: map[string]string{"appId": "app1"}, authz: readToken, perm: Read, wantApp: "app1", form: FormToken},
		{name: "token narrowed denies write", params: map[string]string{"appId": "app1"}, authz: readToken, perm: Write, wantErr: ErrForbidden},
		{name: "token narrowed denies other database", params: map[string]string{"appId": "app2"}, authz: readToken, perm: Read, wantErr: ErrForbidden},
		{name: "token capped by current key grants", params: map[string]string{"appId": "app3"}, authz: widerToken, perm: Read, wantErr: ErrForbidden},
		{name: "token unknown database", params: map[string]string{"appId": "nope"}, authz: fullToken, perm: Read, wantErr: ErrNotExist},
		{name: "token no appId", params: map[string]string{}, authz: fullToken, perm: Read, wantErr: ErrInvalidKey},
		{name: "token expired", params: map[string]string{"appId": "app1"}, authz: expiredToken, perm: Read, wantErr: ErrInvalidToken},
		{name: "token forged", params: map[string]string{"appId": "app1"}, authz: fullToken[:len(fullToken)-2] + "AA", perm: Read, wantErr: ErrInvalidToken},
		{name: "token garbage", params: map[string]string{"appId": "app1"}, authz: "garbage", perm: Read, wantErr: ErrInvalidToken},
		{name: "token api key deleted", params: map[string]string{"appId": "app1"}, authz: deletedKeyToken, perm: Read, wantErr: ErrInvalidToken},
		{name: "token storage down", params: map[string]string{"appId": "app1"}, authz: fullToken, perm: Read, keys: &fakeKeys{fail: errStorage}, wantErr: errStorage},

		// No credentials.
		{name: "nothing", params: map[string]string{}, perm: Read, wantErr: ErrInvalidKey},
		{name: "only appId", params: map[string]string{"appId": "app1", "timestamp": ts}, perm: Read, wantErr: ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := tt.keys
			if keys == nil {
				keys = testKeys()
			}
			v := &Verifier{Keys: keys, Tokens: signer, Now: func() time.Time { return testNow }}
			p, err := v.Authorize(context.Background(), Request{Params: tt.params, Authorization: tt.authz}, tt.perm)
			switch {
			case tt.wantErr == nil:
				if err != nil {
					t.Fatalf("Authorize: %v", err)
				}
				if p.AppID != tt.wantApp || !p.Allows(tt.wantApp, tt.perm) || p.Perm&tt.perm != tt.perm || p.Form != tt.form {
					t.Errorf("principal %+v, want app %q perm %v form %v", p, tt.wantApp, tt.perm, tt.form)
				}
				if p.ViaToken != (tt.form == FormToken) {
					t.Errorf("ViaToken = %v", p.ViaToken)
				}
			case errors.Is(tt.wantErr, errStorage):
				var ae *Error
				if !errors.Is(err, errStorage) || errors.As(err, &ae) {
					t.Errorf("err = %v, want wrapped storage error", err)
				}
			default:
				var ae *Error
				if !errors.As(err, &ae) || !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			}
		})
	}
}

// Verify alone serves the token endpoint: an API key without appId is
// authenticated and carries every grant.
func TestVerifyAPIKeyWithoutApp(t *testing.T) {
	v := &Verifier{Keys: testKeys(), Now: func() time.Time { return testNow }}
	p, err := v.Verify(context.Background(), Request{Params: apiReq("rw", "rw-secret", "", "expires", "3600")})
	if err != nil {
		t.Fatal(err)
	}
	if p.APIKey != "rw" || p.ViaToken || p.AppID != "" || !p.Allows("app1", All) || !p.Allows("app2", Read) || p.Allows("app2", Write) {
		t.Errorf("principal %+v", p)
	}
	// Principal.Grants is a copy: the caller may not alter the store's map.
	p.Grants["app3"] = All
	if _, ok := testKeys().api["rw"].grants["app3"]; ok {
		t.Error("grants aliased")
	}
}

func TestVerifierTokensDisabled(t *testing.T) {
	v := &Verifier{Keys: testKeys()}
	_, err := v.Verify(context.Background(), Request{Params: map[string]string{"appId": "app1"}, Authorization: "x.y"})
	if !errors.Is(err, ErrInvalidToken) {
		t.Errorf("err = %v, want ErrInvalidToken", err)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		params map[string]string
		authz  string
		want   Form
	}{
		{map[string]string{"apiKey": "k", "appKey": "c"}, "", FormAPIKey},
		{map[string]string{"appKey": "c", "timestamp": "1", "date": "d"}, "", FormCloudKey},
		{map[string]string{"appKey": "c", "date": "d"}, "", FormLegacy},
		{map[string]string{"appKey": "c"}, "", FormCloudKey},
		{map[string]string{"apiKey": "k"}, "tok", FormToken},
		{map[string]string{"apiKey": "k"}, "  ", FormAPIKey},
		{map[string]string{}, "", FormNone},
	}
	for _, tt := range tests {
		if got := Classify(Request{Params: tt.params, Authorization: tt.authz}); got != tt.want {
			t.Errorf("Classify(%v, %q) = %v, want %v", tt.params, tt.authz, got, tt.want)
		}
	}
}

func TestErrorStatuses(t *testing.T) {
	tests := []struct {
		err        *Error
		http, code int
		msg        string
	}{
		{ErrInvalidKey, 401, 1, "invalid appId (appKey)"},
		{ErrInvalidSignature, 401, 2, "invalid signature"},
		{ErrInvalidDate, 401, 3, "invalid date"},
		{ErrNotExist, 401, 4, "appId (appKey) not exist"},
		{ErrInvalidToken, 401, 6, "invalid token"},
		{ErrForbidden, 403, 6, "invalid appkey token"},
	}
	for _, tt := range tests {
		if tt.err.HTTP != tt.http || tt.err.Code != tt.code || tt.err.Message != tt.msg {
			t.Errorf("%v: got %d/%d/%q", tt.err, tt.err.HTTP, tt.err.Code, tt.err.Message)
		}
	}
}

func upperSig(p map[string]string) map[string]string {
	return with(p, SignatureParam, strings.ToUpper(p[SignatureParam]))
}

func TestErrorIsThroughWrapping(t *testing.T) {
	err := fmt.Errorf("handler: %w", ErrForbidden)
	var ae *Error
	if !errors.Is(err, ErrForbidden) || errors.Is(err, ErrInvalidToken) || !errors.As(err, &ae) || ae.HTTP != 403 {
		t.Errorf("wrapped error not recognised: %v", err)
	}
}
