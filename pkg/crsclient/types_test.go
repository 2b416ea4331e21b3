package crsclient

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/opencrs/opencrs/internal/auth"
)

func TestDecodeTarget(t *testing.T) {
	want := Target{TargetID: "t1", Name: "n", Size: "20", Meta: "m", Type: "ImageTarget", Active: "1",
		Modified: 1514736000000, TrackingImage: "jpg", DetectableRate: 1, TrackableRate: 2,
		Extra: map[string]string{"color": "red"}}
	noTracking := want
	noTracking.TrackingImage = ""
	tests := []struct {
		name   string
		result string
		want   Target
	}{
		{"flat and nested", `{"targetId":"t1","name":"n","size":"20","meta":"m","type":"ImageTarget","active":"1","modified":1514736000000,"trackingImage":"jpg","detectableRate":1,"trackableRate":2,"color":"red",
			"target":{"targetId":"t1","name":"n","size":"20","meta":"m","type":"ImageTarget","active":"1","modified":1514736000000,"detectableRate":1,"trackableRate":2,"color":"red"}}`, want},
		{"tracking image only nested", `{"targetId":"t1","name":"n","size":"20","meta":"m","type":"ImageTarget","active":"1","modified":1514736000000,"detectableRate":1,"trackableRate":2,"color":"red",
			"target":{"targetId":"t1","trackingImage":"jpg"}}`, want},
		{"nested only", `{"target":{"targetId":"t1","name":"n","size":"20","meta":"m","type":"ImageTarget","active":"1","modified":1514736000000,"trackingImage":"jpg","detectableRate":1,"trackableRate":2,"color":"red"}}`, want},
		{"numbers as strings and strings as numbers", `{"targetId":"t1","name":"n","size":20,"meta":"m","type":"ImageTarget","active":"1","modified":"1514736000000","detectableRate":"1","trackableRate":2.0,"color":"red","nested":{"a":1}}`, noTracking},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oneTarget(json.RawMessage(tt.result))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTargetJSONRoundTrip(t *testing.T) {
	in := Target{TargetID: "t1", Name: "n", Size: "20", Active: "0", Modified: 5, Extra: map[string]string{"k": "v"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["targetId"] != "t1" || m["k"] != "v" || m["active"] != "0" {
		t.Errorf("marshalled %s", b)
	}
	if _, ok := m["trackingImage"]; ok {
		t.Errorf("empty trackingImage marshalled: %s", b)
	}
	var out Target
	if err := json.Unmarshal(b, &out); err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("round trip %+v, %v", out, err)
	}
}

func TestDecodeSearch(t *testing.T) {
	result := `{"targetId":"t1","name":"a","score":0.93,"corners":[[1,2],[3,4],[5,6],[7,8]],
		"target":{"targetId":"t1","name":"a","trackingImage":"jpg"},
		"targets":[{"targetId":"t1","name":"a","score":0.93,"corners":[{"x":1,"y":2},{"x":3,"y":4},{"x":5,"y":6},{"x":7,"y":8}]},
		           {"target":{"targetId":"t2","name":"b"},"score":"0.4"}]}`
	_, srv := newFake(t, func(seen) (int, int, any) { return 200, 0, json.RawMessage(result) })
	r, err := newClient(t, srv, apiKeyConfig).Search(context.Background(), png1, SearchOptions{ExpectNumber: 2})
	if err != nil {
		t.Fatal(err)
	}
	corners := []Point{{1, 2}, {3, 4}, {5, 6}, {7, 8}}
	if r.Target.TargetID != "t1" || r.Target.TrackingImage != "jpg" || r.Score != 0.93 || !reflect.DeepEqual(r.Corners, corners) {
		t.Errorf("best hit %+v", r.Hit)
	}
	if len(r.Targets) != 2 || !reflect.DeepEqual(r.Targets[0].Corners, corners) || r.Targets[1].Target.TargetID != "t2" || r.Targets[1].Score != 0.4 {
		t.Errorf("targets %+v", r.Targets)
	}
	if r.Target.Extra != nil {
		t.Errorf("wrapper members leaked into Extra: %v", r.Target.Extra)
	}
}

func TestDecodeOthers(t *testing.T) {
	tests := []struct {
		name   string
		result string
		call   func(c *Client) (any, error)
		want   any
	}{
		{"list", `{"targets":[{"targetId":"a"},{"targetId":"b"}],"pageNum":2,"pageSize":2,"total":9}`,
			func(c *Client) (any, error) { return c.ListTargets(context.Background(), 2, 2) },
			&TargetPage{Targets: []Target{{TargetID: "a"}, {TargetID: "b"}}, PageNum: 2, PageSize: 2, Total: 9}},
		{"delete many", `{"deleted":["a"],"notFound":["b"]}`,
			func(c *Client) (any, error) { return c.DeleteTargets(context.Background(), []string{"a", "b"}) },
			&DeleteResult{Deleted: []string{"a"}, NotFound: []string{"b"}}},
		{"similar", `{"results":[{"targetId":"a","score":0.7}]}`,
			func(c *Client) (any, error) { return c.Similar(context.Background(), png1) },
			[]Hit{{Target: Target{TargetID: "a"}, Score: 0.7}}},
		{"grade", `{"detectableRate":1,"trackableRate":2,"detectableDistinctiveness":3,"detectableFeatureCount":4,"trackableDistinctiveness":5,"trackableFeatureCount":6,"trackableFeatureDistribution":7,"trackablePatchContrast":8,"trackablePatchAmbiguity":9}`,
			func(c *Client) (any, error) { return c.Grade(context.Background(), png1) },
			&GradeDetail{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"token", `{"token":"x.y","apiKey":"ak","expires":3600,"expiration":"2018-01-01T00:00:00Z"}`,
			func(c *Client) (any, error) { return c.Token(context.Background(), 3600e9, nil) },
			&TokenResult{Token: "x.y", APIKey: "ak", Expires: 3600, Expiration: "2018-01-01T00:00:00Z"}},
		{"count as string", `{"count":"12"}`,
			func(c *Client) (any, error) { return c.Count(context.Background()) }, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newFake(t, func(seen) (int, int, any) { return 200, 0, json.RawMessage(tt.result) })
			got, err := tt.call(newClient(t, srv, apiKeyConfig))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTokenRequest(t *testing.T) {
	f, srv := newFake(t, func(seen) (int, int, any) { return 200, 0, map[string]any{"token": "x"} })
	acl := []ACLStatement{{Service: "ecs:crs", Effect: "Allow", Resource: []string{"app1"}, Permission: []string{"READ"}}}
	if _, err := newClient(t, srv, apiKeyConfig).Token(context.Background(), 3600e9, acl); err != nil {
		t.Fatal(err)
	}
	s := f.requests()[0]
	if s.path != "/token/v2" || s.body["expires"] != "3600" || string(s.rawBody["expires"]) != "3600" {
		t.Errorf("token request %s %v", s.path, s.body)
	}
	got, err := auth.ParseACL(s.body["acl"])
	if err != nil || len(got) != 1 || got[0].Effect != "Allow" || got[0].Resource[0] != "app1" {
		t.Errorf("acl %q: %v %v", s.body["acl"], got, err)
	}
	cloud := newClient(t, srv, Config{AppKey: "ck", AppSecret: "cs"})
	if _, err := cloud.Token(context.Background(), 3600e9, nil); err == nil {
		t.Error("token with a cloud key succeeded")
	}
}

func TestSearchResultJSONRoundTrip(t *testing.T) {
	hit := Hit{Target: Target{TargetID: "t1", Name: "a", Active: "1"}, Score: 0.9, Corners: []Point{{1, 2}, {3, 4}, {5, 6}, {7, 8}}}
	in := SearchResult{Hit: hit, Targets: []Hit{hit, {Target: Target{TargetID: "t2"}, Score: 0.2}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var flat map[string]any
	json.Unmarshal(b, &flat)
	if flat["targetId"] != "t1" || flat["score"] != 0.9 || flat["corners"] == nil {
		t.Errorf("not the API's flat layout: %s", b)
	}
	var out SearchResult
	if err := json.Unmarshal(b, &out); err != nil || !reflect.DeepEqual(out, in) {
		t.Errorf("round trip %+v, %v", out, err)
	}
}
