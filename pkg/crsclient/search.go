package crsclient

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
)

// SearchOptions tune a search.
type SearchOptions struct {
	ExpectNumber int    // how many targets to return, 1–10; 0 means 1
	NoTracking   bool   // leave trackingImage out of the result
	DeviceID     string // required by device-counted databases
	// Multipart sends the image as a file part to /v2/search instead of
	// base64 in JSON to /search.
	Multipart bool
}

// Search recognises the target shown in image on the recognition URL. When
// nothing matches it returns an error matching ErrNoMatch.
func (c *Client) Search(ctx context.Context, image []byte, opt SearchOptions) (*SearchResult, error) {
	if len(image) == 0 {
		return nil, errors.New("crsclient: Search needs an image")
	}
	p := map[string]string{}
	if opt.ExpectNumber > 0 {
		p["expectNumber"] = strconv.Itoa(opt.ExpectNumber)
	}
	if opt.NoTracking {
		p["notracking"] = "true"
	}
	if opt.DeviceID != "" {
		p["deviceId"] = opt.DeviceID
	}
	r := request{method: http.MethodPost, search: true, params: p, numeric: map[string]bool{"expectNumber": true}}
	if opt.Multipart {
		r.path, r.file = "/v2/search", image
	} else {
		r.path = "/search"
		p["image"] = base64.StdEncoding.EncodeToString(image)
	}
	var out SearchResult
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
