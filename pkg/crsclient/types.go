package crsclient

import (
	"encoding/json"
	"strconv"
)

// Target is a target as the API returns it. Field names follow API.md.
type Target struct {
	TargetID       string `json:"targetId"`
	Name           string `json:"name"`
	Size           string `json:"size"` // physical width in cm
	Meta           string `json:"meta"`
	Type           string `json:"type"`   // "ImageTarget"
	Active         string `json:"active"` // "1" or "0"
	Modified       int64  `json:"modified"`
	TrackingImage  string `json:"trackingImage,omitempty"` // base64 JPEG, where the API sends it
	DetectableRate int    `json:"detectableRate"`
	TrackableRate  int    `json:"trackableRate"`
	// Extra holds any other string fields stored with the target.
	Extra map[string]string `json:"-"`
}

// IsActive reports whether the target is searchable.
func (t *Target) IsActive() bool { return t.Active == "1" }

// targetFields are the members decoded into Target's fields; wrapperFields
// are members of results that carry a target but are not part of it.
var (
	targetFields  = []string{"targetId", "name", "size", "meta", "type", "active", "modified", "trackingImage", "detectableRate", "trackableRate"}
	wrapperFields = []string{"target", "score", "corners", "targets", "results"}
)

// UnmarshalJSON reads a target leniently: numbers and strings are accepted
// for every field (servers differ), and unknown string members go to Extra.
func (t *Target) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*t = Target{
		TargetID:       text(m["targetId"]),
		Name:           text(m["name"]),
		Size:           text(m["size"]),
		Meta:           text(m["meta"]),
		Type:           text(m["type"]),
		Active:         text(m["active"]),
		Modified:       integer(m["modified"]),
		TrackingImage:  text(m["trackingImage"]),
		DetectableRate: int(integer(m["detectableRate"])),
		TrackableRate:  int(integer(m["trackableRate"])),
	}
	for _, k := range append(targetFields, wrapperFields...) {
		delete(m, k)
	}
	for k, raw := range m {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if t.Extra == nil {
				t.Extra = make(map[string]string)
			}
			t.Extra[k] = s
		}
	}
	return nil
}

// MarshalJSON writes the API's flat layout, Extra fields included.
func (t Target) MarshalJSON() ([]byte, error) { return json.Marshal(t.fields()) }

func (t Target) fields() map[string]any {
	m := make(map[string]any, len(t.Extra)+12)
	for k, v := range t.Extra {
		m[k] = v
	}
	m["targetId"] = t.TargetID
	m["name"] = t.Name
	m["size"] = t.Size
	m["meta"] = t.Meta
	m["type"] = t.Type
	m["active"] = t.Active
	m["modified"] = t.Modified
	m["detectableRate"] = t.DetectableRate
	m["trackableRate"] = t.TrackableRate
	if t.TrackingImage != "" {
		m["trackingImage"] = t.TrackingImage
	}
	return m
}

// text renders a JSON string or number as text; other values are "".
func text(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// integer reads a JSON number or numeric string; anything else is 0.
func integer(raw json.RawMessage) int64 {
	s := text(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return int64(f)
	}
	return 0
}

// oneTarget reads a result carrying one target, which the API sends both
// flat and under "target" (API.md §3 Decision); either layout alone works.
func oneTarget(raw json.RawMessage) (Target, error) {
	var flat Target
	if err := json.Unmarshal(raw, &flat); err != nil {
		return Target{}, err
	}
	var w struct {
		Target *Target `json:"target"`
	}
	if err := json.Unmarshal(raw, &w); err != nil || w.Target == nil {
		return flat, nil
	}
	if flat.TargetID == "" {
		return *w.Target, nil
	}
	if flat.TrackingImage == "" {
		flat.TrackingImage = w.Target.TrackingImage
	}
	return flat, nil
}

// TargetInput is a new target. Image (JPEG or PNG bytes) and Name are
// required.
type TargetInput struct {
	Image        []byte
	Name         string // 1–64 printable ASCII
	Size         string // physical width in cm; empty means the server default
	Meta         string
	Active       *bool // nil means the server default (active)
	AllowSimilar bool  // add even if a similar active target exists
	Extra        map[string]string
}

// TargetUpdate changes some fields of a target; nil and empty fields keep
// their value.
type TargetUpdate struct {
	Image        []byte
	Name         *string
	Size         *string
	Meta         *string
	Active       *bool
	AllowSimilar *bool
	Extra        map[string]string
}

// TargetPage is one page of ListTargets.
type TargetPage struct {
	Targets  []Target `json:"targets"`
	PageNum  int      `json:"pageNum"`
	PageSize int      `json:"pageSize"`
	Total    int      `json:"total"`
}

// DeleteResult is the outcome of DeleteTargets.
type DeleteResult struct {
	Deleted  []string `json:"deleted"`
	NotFound []string `json:"notFound"`
}

// Point is a position in the query image's pixels.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// UnmarshalJSON accepts both [x, y] and {"x": x, "y": y}.
func (p *Point) UnmarshalJSON(b []byte) error {
	var xy []float64
	if err := json.Unmarshal(b, &xy); err == nil {
		if len(xy) >= 2 {
			p.X, p.Y = xy[0], xy[1]
		}
		return nil
	}
	type plain Point
	return json.Unmarshal(b, (*plain)(p))
}

// Hit is one recognised or similar target.
type Hit struct {
	Target  Target  `json:"target"`
	Score   float64 `json:"score"`
	Corners []Point `json:"corners,omitempty"` // TL, TR, BR, BL in the query image
}

// UnmarshalJSON reads a hit in either the flat or the "target" layout.
func (h *Hit) UnmarshalJSON(b []byte) error {
	t, err := oneTarget(b)
	if err != nil {
		return err
	}
	var rest struct {
		Score   json.RawMessage `json:"score"`
		Corners []Point         `json:"corners"`
	}
	if err := json.Unmarshal(b, &rest); err != nil {
		return err
	}
	score, _ := strconv.ParseFloat(text(rest.Score), 64)
	*h = Hit{Target: t, Score: score, Corners: rest.Corners}
	return nil
}

// MarshalJSON writes the hit flat, as the API does: the target's fields
// with "score" and "corners" ([x, y] pairs) beside them.
func (h Hit) MarshalJSON() ([]byte, error) { return json.Marshal(h.fields()) }

func (h Hit) fields() map[string]any {
	m := h.Target.fields()
	m["score"] = h.Score
	if len(h.Corners) > 0 {
		xy := make([][2]float64, len(h.Corners))
		for i, p := range h.Corners {
			xy[i] = [2]float64{p.X, p.Y}
		}
		m["corners"] = xy
	}
	return m
}

// SearchResult is a successful search: the best hit and, when more than one
// was asked for, all hits best first.
type SearchResult struct {
	Hit
	Targets []Hit `json:"targets,omitempty"`
}

// UnmarshalJSON reads the best hit from the flat layout and the list.
func (r *SearchResult) UnmarshalJSON(b []byte) error {
	if err := r.Hit.UnmarshalJSON(b); err != nil {
		return err
	}
	var rest struct {
		Targets []Hit `json:"targets"`
	}
	if err := json.Unmarshal(b, &rest); err != nil {
		return err
	}
	r.Targets = rest.Targets
	return nil
}

// MarshalJSON writes the best hit flat, with "targets" when there are more.
func (r SearchResult) MarshalJSON() ([]byte, error) {
	m := r.Hit.fields()
	if len(r.Targets) > 0 {
		m["targets"] = r.Targets
	}
	return json.Marshal(m)
}

// GradeDetail is the result of Grade: 0 (best) … 4 (worst), −1 unusable, and
// the measurements behind the two rates.
type GradeDetail struct {
	DetectableRate               int `json:"detectableRate"`
	TrackableRate                int `json:"trackableRate"`
	DetectableDistinctiveness    int `json:"detectableDistinctiveness"`
	DetectableFeatureCount       int `json:"detectableFeatureCount"`
	TrackableDistinctiveness     int `json:"trackableDistinctiveness"`
	TrackableFeatureCount        int `json:"trackableFeatureCount"`
	TrackableFeatureDistribution int `json:"trackableFeatureDistribution"`
	TrackablePatchContrast       int `json:"trackablePatchContrast"`
	TrackablePatchAmbiguity      int `json:"trackablePatchAmbiguity"`
}

// ACLStatement narrows a token (API.md §2).
type ACLStatement struct {
	Service    string   `json:"service"`    // "ecs:crs"
	Effect     string   `json:"effect"`     // "Allow" or "Deny"
	Resource   []string `json:"resource"`   // appIds
	Permission []string `json:"permission"` // "READ", "WRITE"
}

// TokenResult is an issued token.
type TokenResult struct {
	Token      string `json:"token"`
	APIKey     string `json:"apiKey"`
	Expires    int64  `json:"expires"`    // seconds
	Expiration string `json:"expiration"` // ISO-8601
}
