package crsclient

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The target type the API knows.
const imageTarget = "ImageTarget"

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// putExtra copies extra fields without letting them override the call's own.
func putExtra(params, extra map[string]string) {
	for k, v := range extra {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
}

// CreateTarget adds a target and returns it as stored (with trackingImage).
func (c *Client) CreateTarget(ctx context.Context, in TargetInput) (*Target, error) {
	if len(in.Image) == 0 || in.Name == "" {
		return nil, errors.New("crsclient: CreateTarget needs an image and a name")
	}
	p := map[string]string{
		"image":        base64.StdEncoding.EncodeToString(in.Image),
		"name":         in.Name,
		"meta":         in.Meta,
		"type":         imageTarget,
		"allowSimilar": boolFlag(in.AllowSimilar),
	}
	if in.Size != "" {
		p["size"] = in.Size
	}
	if in.Active != nil {
		p["active"] = boolFlag(*in.Active)
	}
	putExtra(p, in.Extra)
	return c.targetCall(ctx, request{method: http.MethodPost, path: "/targets/", params: p})
}

// GetTarget returns a target with its trackingImage.
func (c *Client) GetTarget(ctx context.Context, id string) (*Target, error) {
	return c.targetCall(ctx, request{method: http.MethodGet, path: targetPath(id)})
}

// UpdateTarget changes the fields set in up and returns the updated target.
func (c *Client) UpdateTarget(ctx context.Context, id string, up TargetUpdate) (*Target, error) {
	p := map[string]string{}
	if len(up.Image) > 0 {
		p["image"] = base64.StdEncoding.EncodeToString(up.Image)
	}
	set := func(k string, v *string) {
		if v != nil {
			p[k] = *v
		}
	}
	set("name", up.Name)
	set("size", up.Size)
	set("meta", up.Meta)
	if up.Active != nil {
		p["active"] = boolFlag(*up.Active)
	}
	if up.AllowSimilar != nil {
		p["allowSimilar"] = boolFlag(*up.AllowSimilar)
	}
	putExtra(p, up.Extra)
	return c.targetCall(ctx, request{method: http.MethodPut, path: targetPath(id), params: p})
}

// DeleteTarget removes a target and returns what was deleted.
func (c *Client) DeleteTarget(ctx context.Context, id string) (*Target, error) {
	return c.targetCall(ctx, request{method: http.MethodDelete, path: targetPath(id)})
}

// DeleteTargets removes several targets at once.
func (c *Client) DeleteTargets(ctx context.Context, ids []string) (*DeleteResult, error) {
	if len(ids) == 0 {
		return &DeleteResult{}, nil
	}
	var out DeleteResult
	err := c.do(ctx, request{
		method:  http.MethodDelete,
		path:    "/targets",
		params:  map[string]string{"targetId": strings.Join(ids, ",")},
		bodyToo: true,
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTargets returns one page of targets, newest-modified first. Zero
// pageNum or pageSize means the server default.
func (c *Client) ListTargets(ctx context.Context, pageNum, pageSize int) (*TargetPage, error) {
	p := map[string]string{}
	if pageNum > 0 {
		p["pageNum"] = strconv.Itoa(pageNum)
	}
	if pageSize > 0 {
		p["pageSize"] = strconv.Itoa(pageSize)
	}
	var out TargetPage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/targets/infos", params: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Count returns the number of targets in the database.
func (c *Client) Count(ctx context.Context) (int, error) {
	var out struct {
		Count json.Number `json:"count"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: "/targets/count"}, &out); err != nil {
		return 0, err
	}
	n, err := out.Count.Int64()
	return int(n), err
}

// Similar returns the targets that the image matches, best first.
func (c *Client) Similar(ctx context.Context, image []byte) ([]Hit, error) {
	var out struct {
		Results []Hit `json:"results"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "/similar/", params: imageParams(image)}, &out)
	if err != nil {
		return nil, err
	}
	return out.Results, nil
}

// Grade rates an image as a target without adding it.
func (c *Client) Grade(ctx context.Context, image []byte) (*GradeDetail, error) {
	var out GradeDetail
	err := c.do(ctx, request{method: http.MethodPost, path: "/grade/detail", params: imageParams(image)}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Token asks for a token that reaches what the API key does, narrowed by
// acl, for the given lifetime (whole seconds). It needs an API key.
func (c *Client) Token(ctx context.Context, expires time.Duration, acl []ACLStatement) (*TokenResult, error) {
	p := map[string]string{"expires": strconv.FormatInt(int64(expires/time.Second), 10)}
	if len(acl) > 0 {
		b, err := json.Marshal(acl)
		if err != nil {
			return nil, err
		}
		p["acl"] = string(b)
	}
	var out TokenResult
	err := c.do(ctx, request{
		method:     http.MethodPost,
		path:       "/token/v2",
		params:     p,
		numeric:    map[string]bool{"expires": true},
		needAPIKey: true,
	}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func imageParams(image []byte) map[string]string {
	return map[string]string{"image": base64.StdEncoding.EncodeToString(image)}
}

func targetPath(id string) string { return "/target/" + url.PathEscape(id) }

func (c *Client) targetCall(ctx context.Context, r request) (*Target, error) {
	var raw json.RawMessage
	if err := c.do(ctx, r, &raw); err != nil {
		return nil, err
	}
	t, err := oneTarget(raw)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
