package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"strconv"
	"strings"
	"time"

	"github.com/opencrs/opencrs/internal/auth"
	"github.com/opencrs/opencrs/internal/engine"
	"github.com/opencrs/opencrs/internal/store"
	"github.com/opencrs/opencrs/internal/vision"
)

// reserved are parameters with a meaning of their own: never kept as a
// target's extra fields.
var reserved = map[string]bool{
	"apiKey": true, "appId": true, "appKey": true, "timestamp": true, "date": true, "signature": true,
	"image": true, "name": true, "size": true, "meta": true, "type": true, "active": true,
	"allowSimilar": true, "targetId": true, "modified": true, "trackingImage": true,
	"detectableRate": true, "trackableRate": true, "target": true, "token": true,
}

const targetType = "ImageTarget"

// trackingMaxSide bounds the stored grey image: clients track on it, and a
// 40-megapixel upload would otherwise be sent back on every hit.
const trackingMaxSide = 1280

// targetView is a target as the API shows it (API.md §3), without trackingImage.
func targetView(t store.Target) map[string]any {
	m := make(map[string]any, 9+len(t.Extra))
	for k, v := range t.Extra {
		m[k] = v
	}
	active := "0"
	if t.Active {
		active = "1"
	}
	m["targetId"] = t.ID
	m["name"] = t.Name
	m["size"] = t.Size
	m["meta"] = t.Meta
	m["type"] = t.Type
	m["active"] = active
	m["modified"] = t.Modified
	m["detectableRate"] = t.DetectableRate
	m["trackableRate"] = t.TrackableRate
	return m
}

// single is a result carrying one target: its fields flat and under
// "target" (the API's Decision), trackingImage in at most one of them.
func single(t store.Target, flatImage, nestedImage string) map[string]any {
	flat, nested := targetView(t), targetView(t)
	if flatImage != "" {
		flat["trackingImage"] = flatImage
	}
	if nestedImage != "" {
		nested["trackingImage"] = nestedImage
	}
	flat["target"] = nested
	return flat
}

// trackingJPEG encodes the processed grey image clients track on.
func trackingJPEG(img *image.Gray) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, vision.Resize(img, trackingMaxSide), &jpeg.Options{Quality: 90}); err != nil {
		return nil, fmt.Errorf("encoding tracking image: %w", err)
	}
	return buf.Bytes(), nil
}

// fields are the editable target fields a request carries; nil = absent.
type fields struct {
	name, size, meta, typ *string
	active, allowSimilar  *bool
	extra                 map[string]string
}

func parseFields(p map[string]string, maxMeta int) (fields, error) {
	var f fields
	if v, ok := p["name"]; ok {
		if !ValidName(v) {
			return f, errParam("name must be 1-64 printable ASCII characters")
		}
		f.name = &v
	}
	if v, ok := p["size"]; ok {
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(n > 0) || n > 1e9 {
			return f, errParam("size %q is not a number > 0", v)
		}
		s := strconv.FormatFloat(n, 'f', -1, 64)
		f.size = &s
	}
	if v, ok := p["meta"]; ok {
		if len(v) > maxMeta {
			return f, business(422, msgTooLarge, fmt.Errorf("meta of %d bytes over %d", len(v), maxMeta))
		}
		f.meta = &v
	}
	if v, ok := p["type"]; ok {
		if v != targetType {
			return f, errParam("type %q, want %s", v, targetType)
		}
		f.typ = &v
	}
	if v, ok := p["active"]; ok {
		b, err := flag01(v)
		if err != nil {
			return f, errParam("active: %v", err)
		}
		f.active = &b
	}
	if v, ok := p["allowSimilar"]; ok {
		b, err := flag01(v)
		if err != nil {
			return f, errParam("allowSimilar: %v", err)
		}
		f.allowSimilar = &b
	}
	for k, v := range p {
		if !reserved[k] {
			if f.extra == nil {
				f.extra = map[string]string{}
			}
			f.extra[k] = v
		}
	}
	return f, nil
}

func flag01(v string) (bool, error) {
	switch strings.TrimSpace(v) {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not 0 or 1", v)
}

func (f fields) apply(t *store.Target) {
	if f.name != nil {
		t.Name = *f.name
	}
	if f.size != nil {
		t.Size = *f.size
	}
	if f.meta != nil {
		t.Meta = *f.meta
	}
	if f.typ != nil {
		t.Type = *f.typ
	}
	if f.active != nil {
		t.Active = *f.active
	}
	if f.allowSimilar != nil {
		t.AllowSimilar = *f.allowSimilar
	}
	for k, v := range f.extra {
		if t.Extra == nil {
			t.Extra = map[string]string{}
		}
		t.Extra[k] = v
	}
}

// prepared is an uploaded target image after the expensive work, done
// before any lock is taken.
type prepared struct {
	img      *image.Gray
	target   *engine.Target
	features []byte
	tracking []byte
}

func (s *Service) prepare(ctx context.Context, rec Recognizer, img *image.Gray) (*prepared, error) {
	t, err := rec.Prepare(ctx, img)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, business(417, msgAddFailed, fmt.Errorf("preparing target: %w", err))
	}
	if t.Grade.Detection < 0 {
		return nil, business(417, msgAddFailed, engine.ErrNotGradable)
	}
	feat, err := t.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encoding features: %w", err)
	}
	track, err := trackingJPEG(img)
	if err != nil {
		return nil, err
	}
	return &prepared{img: img, target: t, features: feat, tracking: track}, nil
}

// queryRecognizer is a Recognizer that extracts a query's features apart
// from searching with them (*engine.Engine).
type queryRecognizer interface {
	ExtractQuery(img *image.Gray) *engine.Query
	SearchQuery(ctx context.Context, q *engine.Query, k int) ([]engine.Result, error)
}

// similarProbe prepares the duplicate check of img: the search it returns
// runs under the database's write lock, so that two creates of one image
// cannot both pass, but the query's features — the costly part — are
// extracted now, before the lock, when the engine allows it. The result is
// Similar's either way.
func similarProbe(rec Recognizer, img *image.Gray) func(context.Context) ([]engine.Result, error) {
	if qr, ok := rec.(queryRecognizer); ok {
		q := qr.ExtractQuery(img)
		return func(ctx context.Context) ([]engine.Result, error) { return qr.SearchQuery(ctx, q, 5) }
	}
	return func(ctx context.Context) ([]engine.Result, error) { return rec.Similar(ctx, img, 5) }
}

// duplicate returns the id of a stored target other than exclude that the
// probe (similarProbe) matches (only active ones if activeOnly), or "".
func (s *Service) duplicate(ctx context.Context, appID string, probe func(context.Context) ([]engine.Result, error), exclude string, activeOnly bool) (string, error) {
	res, err := probe(ctx)
	if err != nil {
		return "", fmt.Errorf("duplicate check: %w", err)
	}
	for _, r := range res {
		if r.ID == exclude {
			continue
		}
		t, err := s.store.Target(ctx, appID, r.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if !activeOnly || t.Active {
			return t.ID, nil
		}
	}
	return "", nil
}

func (s *Service) createTarget(ctx context.Context, c *call) (any, error) {
	app, err := s.begin(ctx, c, auth.Write)
	if err != nil {
		return nil, err
	}
	f, err := parseFields(c.params, s.cfg.MaxMeta)
	if err != nil {
		return nil, err
	}
	if f.name == nil {
		return nil, errParam("name missing")
	}
	img, err := s.imageParam(c)
	if err != nil {
		return nil, err
	}
	if lim := app.Limits.MaxTargets; lim > 0 {
		// Refuse before extraction, the expensive part; the store re-checks
		// atomically.
		n, err := s.store.CountTargets(ctx, app.ID)
		if err != nil {
			return nil, err
		}
		if n.Total >= lim {
			return nil, business(417, msgAddFailed, store.ErrTargetQuota)
		}
	}
	ae, err := s.engines.get(app.ID)
	if err != nil {
		return nil, err
	}
	p, err := s.prepare(ctx, ae.rec, img)
	if err != nil {
		return nil, err
	}
	t := store.Target{ID: store.NewUUID(), Size: "20", Type: targetType, Active: true, Modified: s.now().UnixMilli()}
	f.apply(&t)
	t.DetectableRate, t.TrackableRate = p.target.Grade.Detection, p.target.Grade.Tracking
	var probe func(context.Context) ([]engine.Result, error)
	if !t.AllowSimilar {
		probe = similarProbe(ae.rec, img)
	}

	ae.write.Lock()
	defer ae.write.Unlock()
	if probe != nil {
		dup, err := s.duplicate(ctx, app.ID, probe, "", true)
		if err != nil {
			return nil, business(417, msgAddFailed, err)
		}
		if dup != "" {
			return nil, business(403, fmt.Sprintf("%s (targetId: %s)", msgExists, dup), nil)
		}
	}
	err = s.store.CreateTarget(ctx, app.ID, t, store.Blobs{Image: p.tracking, Features: p.features}, app.Limits)
	switch {
	case errors.Is(err, store.ErrActiveQuota):
		return nil, business(424, msgEnable, err)
	case storeFault(err) != nil:
		return nil, err
	case err != nil:
		return nil, business(417, msgAddFailed, err)
	}
	ae.changes.Add(1)
	if err := addTarget(ae.rec, t.ID, p.target, t.Active, t.Modified); err != nil {
		// Keep store and engine in agreement: what is not searchable is not kept.
		if _, derr := s.store.DeleteTarget(context.WithoutCancel(ctx), app.ID, t.ID); derr != nil {
			s.log.Error("rollback of unindexed target failed", "appId", app.ID, "targetId", t.ID, "err", derr)
		}
		return nil, business(417, msgAddFailed, fmt.Errorf("indexing: %w", err))
	}
	return single(t, base64.StdEncoding.EncodeToString(p.tracking), ""), nil
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return business(404, msgNotFound, err)
	}
	return err
}

func (s *Service) getTarget(ctx context.Context, c *call) (any, error) {
	app, err := s.begin(ctx, c, auth.Read)
	if err != nil {
		return nil, err
	}
	t, err := s.store.Target(ctx, app.ID, c.vars[0])
	if err != nil {
		return nil, notFound(err)
	}
	img, err := s.store.TrackingImage(ctx, app.ID, t.ID)
	if err != nil {
		return nil, notFound(err)
	}
	return single(t, base64.StdEncoding.EncodeToString(img), ""), nil
}

func (s *Service) updateTarget(ctx context.Context, c *call) (any, error) {
	app, err := s.begin(ctx, c, auth.Write)
	if err != nil {
		return nil, err
	}
	id := c.vars[0]
	f, err := parseFields(c.params, s.cfg.MaxMeta)
	if err != nil {
		return nil, err
	}
	var img *image.Gray
	if _, ok := c.params["image"]; ok {
		if img, err = s.imageParam(c); err != nil {
			return nil, err
		}
	}
	// Fail fast on an unknown id before extracting features.
	cur, err := s.store.Target(ctx, app.ID, id)
	if err != nil {
		return nil, notFound(err)
	}
	ae, err := s.engines.get(app.ID)
	if err != nil {
		return nil, err
	}
	var p *prepared
	var probe func(context.Context) ([]engine.Result, error)
	if img != nil {
		if p, err = s.prepare(ctx, ae.rec, img); err != nil {
			return nil, err
		}
		if f.allowSimilar != nil && !*f.allowSimilar || f.allowSimilar == nil && !cur.AllowSimilar {
			probe = similarProbe(ae.rec, img)
		}
	}

	ae.write.Lock()
	defer ae.write.Unlock()
	old, err := s.store.Target(ctx, app.ID, id)
	if err != nil {
		return nil, notFound(err)
	}
	t := old
	t.Extra = cloneMap(old.Extra)
	f.apply(&t)
	t.Modified = max(s.now().UnixMilli(), old.Modified+1)
	var blobs, oldBlobs store.Blobs
	if p != nil {
		// Kept to restore store and engine should indexing the new image fail.
		if oldBlobs, err = s.store.Blobs(ctx, app.ID, id); err != nil {
			return nil, err
		}
		if !t.AllowSimilar {
			if probe == nil { // the target's allowSimilar changed meanwhile
				probe = similarProbe(ae.rec, img)
			}
			dup, err := s.duplicate(ctx, app.ID, probe, id, false)
			if err != nil {
				return nil, business(417, msgAddFailed, err)
			}
			if dup != "" {
				return nil, business(419, msgSimilar, fmt.Errorf("matches target %s", dup))
			}
		}
		t.DetectableRate, t.TrackableRate = p.target.Grade.Detection, p.target.Grade.Tracking
		blobs = store.Blobs{Image: p.tracking, Features: p.features}
	}
	err = s.store.UpdateTarget(ctx, app.ID, t, blobs, app.Limits)
	switch {
	case errors.Is(err, store.ErrActiveQuota):
		return nil, business(424, msgEnable, err)
	case errors.Is(err, store.ErrNotFound):
		return nil, notFound(err)
	case storeFault(err) != nil:
		return nil, err
	case err != nil:
		return nil, business(417, msgAddFailed, err)
	}
	ae.changes.Add(1)
	if p != nil {
		err = addTarget(ae.rec, id, p.target, t.Active, t.Modified)
	} else if t.Active != old.Active {
		err = ae.rec.SetActive(id, t.Active)
	}
	if err != nil {
		s.rollbackUpdate(ctx, app.ID, ae.rec, old, oldBlobs)
		if p != nil {
			return nil, business(417, msgAddFailed, err)
		}
		return nil, business(424, msgEnable, err)
	}
	tracking := ""
	if p != nil {
		tracking = base64.StdEncoding.EncodeToString(p.tracking)
	} else if b, err := s.store.TrackingImage(ctx, app.ID, id); err == nil {
		tracking = base64.StdEncoding.EncodeToString(b)
	} else {
		return nil, err
	}
	return single(t, tracking, ""), nil
}

// rollbackUpdate puts a target's previous record (and, after a new image,
// its previous features) back in the store and the engine, so the two agree
// after a failed update.
func (s *Service) rollbackUpdate(ctx context.Context, appID string, rec Recognizer, old store.Target, oldBlobs store.Blobs) {
	ctx = context.WithoutCancel(ctx)
	if err := s.store.UpdateTarget(ctx, appID, old, oldBlobs, store.Limits{}); err != nil {
		s.log.Error("rollback of target update failed", "appId", appID, "targetId", old.ID, "err", err)
		return
	}
	if oldBlobs.Features == nil {
		return
	}
	var t engine.Target
	err := t.UnmarshalBinary(oldBlobs.Features)
	if err == nil {
		err = addTarget(rec, old.ID, &t, old.Active, old.Modified)
	}
	if err != nil {
		s.log.Error("rollback of target features failed", "appId", appID, "targetId", old.ID, "err", err)
	}
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// remove deletes one target from store and engine.
func (s *Service) remove(ctx context.Context, appID string, ae *appEngine, id string) (store.Target, error) {
	ae.write.Lock()
	defer ae.write.Unlock()
	t, err := s.store.DeleteTarget(ctx, appID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return t, notFound(err)
	case storeFault(err) != nil:
		return t, err
	case err != nil:
		return t, business(420, msgDeleteFailed, err)
	}
	ae.rec.Remove(id)
	ae.changes.Add(1)
	return t, nil
}

func (s *Service) deleteTarget(ctx context.Context, c *call) (any, error) {
	app, err := s.begin(ctx, c, auth.Write)
	if err != nil {
		return nil, err
	}
	ae, err := s.engines.get(app.ID)
	if err != nil {
		return nil, err
	}
	t, err := s.remove(ctx, app.ID, ae, c.vars[0])
	if err != nil {
		return nil, err
	}
	return single(t, "", ""), nil
}

func (s *Service) deleteTargets(ctx context.Context, c *call) (any, error) {
	app, err := s.begin(ctx, c, auth.Write)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, id := range strings.Split(c.params["targetId"], ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, errParam("targetId missing")
	}
	ae, err := s.engines.get(app.ID)
	if err != nil {
		return nil, err
	}
	deleted, missing := []string{}, []string{}
	for _, id := range ids {
		_, err := s.remove(ctx, app.ID, ae, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			missing = append(missing, id)
		case err != nil:
			return nil, err
		default:
			deleted = append(deleted, id)
		}
	}
	return map[string]any{"deleted": deleted, "notFound": missing}, nil
}

func views(ts []store.Target) []map[string]any {
	out := make([]map[string]any, 0, len(ts))
	for _, t := range ts {
		out = append(out, targetView(t))
	}
	return out
}

func (s *Service) listTargets(ctx context.Context, c *call) (any, error) {
	app, err := s.begin(ctx, c, auth.Read)
	if err != nil {
		return nil, err
	}
	num, err := intParam(c.params, "pageNum", 1, 1, 1<<30)
	if err != nil {
		return nil, err
	}
	size, err := intParam(c.params, "pageSize", 5, 1, 100)
	if err != nil {
		return nil, err
	}
	ts, total, err := s.store.ListTargets(ctx, app.ID, (num-1)*size, size)
	if err != nil {
		return nil, err
	}
	return map[string]any{"targets": views(ts), "pageNum": num, "pageSize": size, "total": total}, nil
}

func (s *Service) legacyListTargets(ctx context.Context, c *call) (any, error) {
	app, err := s.begin(ctx, c, auth.Read)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(c.params, "limit", 100, 1, 100)
	if err != nil {
		return nil, err
	}
	ts, last, err := s.store.ScanTargets(ctx, app.ID, c.params["last"], limit)
	if err != nil {
		return nil, err
	}
	return map[string]any{"targets": views(ts), "last": last}, nil
}

func (s *Service) countTargets(ctx context.Context, c *call) (any, error) {
	app, err := s.begin(ctx, c, auth.Read)
	if err != nil {
		return nil, err
	}
	n, err := s.store.CountTargets(ctx, app.ID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"count": n.Total}, nil
}

func (s *Service) similar(ctx context.Context, c *call) (any, error) {
	app, err := s.begin(ctx, c, auth.Read)
	if err != nil {
		return nil, err
	}
	img, err := s.imageParam(c)
	if err != nil {
		return nil, err
	}
	ae, err := s.engines.get(app.ID)
	if err != nil {
		return nil, err
	}
	res, err := ae.rec.Similar(ctx, img, 10)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, r := range res {
		t, err := s.store.Target(ctx, app.ID, r.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		v := targetView(t)
		v["score"] = r.Score
		out = append(out, v)
	}
	return map[string]any{"results": out}, nil
}

// grade rates an image; which selects the payload.
func (s *Service) grade(which string) handlerFunc {
	return func(ctx context.Context, c *call) (any, error) {
		app, err := s.begin(ctx, c, auth.Read)
		if err != nil {
			return nil, err
		}
		img, err := s.imageParam(c)
		if err != nil {
			return nil, err
		}
		ae, err := s.engines.get(app.ID)
		if err != nil {
			return nil, err
		}
		g, err := ae.rec.Grade(ctx, img)
		if errors.Is(err, engine.ErrNotGradable) {
			g, err = engine.Grade{Detection: -1, Tracking: -1}, nil
		}
		if err != nil {
			return nil, err
		}
		switch which {
		case "detection":
			return map[string]any{"grade": g.Detection}, nil
		case "tracking":
			return map[string]any{"grade": g.Tracking}, nil
		}
		return map[string]any{
			"detectableRate":               g.Detection,
			"trackableRate":                g.Tracking,
			"detectableDistinctiveness":    g.DetectionDistinctiveness,
			"detectableFeatureCount":       g.DetectionFeatureCount,
			"trackableDistinctiveness":     g.TrackingDistinctiveness,
			"trackableFeatureCount":        g.TrackingFeatureCount,
			"trackableFeatureDistribution": g.TrackingFeatureDistribution,
			"trackablePatchContrast":       g.TrackingPatchContrast,
			"trackablePatchAmbiguity":      g.TrackingPatchAmbiguity,
		}, nil
	}
}

// issueToken serves POST /token/v2: a token signed by an API key, narrowed by acl.
func (s *Service) issueToken(ctx context.Context, c *call) (any, error) {
	if err := s.readParams(c); err != nil {
		return nil, err
	}
	p, err := s.verifier.Verify(ctx, auth.Request{Params: c.params})
	if err != nil {
		return nil, err
	}
	if p.Form != auth.FormAPIKey {
		return nil, auth.ErrInvalidKey
	}
	secs, err := intParam(c.params, "expires", 3600, 1, int(auth.MaxTokenLifetime/time.Second))
	if err != nil {
		return nil, err
	}
	var acl []auth.ACLStatement
	if v := c.params["acl"]; v != "" {
		if acl, err = auth.ParseACL(v); err != nil {
			return nil, errParam("acl: %v", err)
		}
	}
	tok, err := s.tokens.Issue(p.APIKey, p.Grants, acl, time.Duration(secs)*time.Second, s.now())
	if err != nil {
		return nil, errParam("%v", err)
	}
	return map[string]any{
		"token":      tok.Token,
		"apiKey":     tok.APIKey,
		"expires":    secs,
		"expiration": tok.Expiration.UTC().Format(time.RFC3339),
	}, nil
}
