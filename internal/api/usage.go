package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opencrs/opencrs/internal/store"
)

// limiter is a token bucket per database: QPS tokens a second, bursts of
// up to QPS. The clock is the caller's, so it is testable without sleeping.
type limiter struct {
	mu sync.Mutex
	b  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter() *limiter { return &limiter{b: map[string]*bucket{}} }

func (l *limiter) drop(appID string) {
	l.mu.Lock()
	delete(l.b, appID)
	l.mu.Unlock()
}

func (l *limiter) allow(appID string, qps int, now time.Time) bool {
	if qps <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.b[appID]
	if b == nil {
		b = &bucket{tokens: float64(qps), last: now}
		l.b[appID] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(float64(qps), b.tokens+dt*float64(qps))
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// usageBook counts searches in memory and persists them in batches: a
// store write per search would put an fsync on every search's path. A
// crash loses at most one flush interval of statistics, never targets.
type usageBook struct {
	st Store

	mu      sync.Mutex
	pending map[usageKey]*pendingUsage
	// stored caches the searches already persisted for a day, for the
	// daily quota, so the check costs no store read after the first.
	stored map[usageKey]int64
	// flushing counts searches taken out of pending but not yet stored, so
	// the quota never sees a gap during a flush.
	flushing map[usageKey]int64
}

type usageKey struct{ app, day string }

type pendingUsage struct {
	searches, hits, misses int64
	devices                map[string]bool
	targetHits             map[string]int64
}

func newUsageBook(st Store) *usageBook {
	return &usageBook{st: st, pending: map[usageKey]*pendingUsage{}, stored: map[usageKey]int64{}, flushing: map[usageKey]int64{}}
}

// Record counts one search; hit is the best target's id, "" for a miss.
func (u *usageBook) Record(appID, day, device, hit string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := usageKey{appID, day}
	p := u.pending[k]
	if p == nil {
		p = &pendingUsage{devices: map[string]bool{}, targetHits: map[string]int64{}}
		u.pending[k] = p
	}
	p.searches++
	if hit != "" {
		p.hits++
		p.targetHits[hit]++
	} else {
		p.misses++
	}
	if device != "" {
		p.devices[device] = true
	}
}

// Searches returns a day's searches so far, persisted and pending.
func (u *usageBook) Searches(ctx context.Context, appID, day string) (int64, error) {
	k := usageKey{appID, day}
	u.mu.Lock()
	n, ok := u.stored[k]
	n += u.unstored(k)
	u.mu.Unlock()
	if ok {
		return n, nil
	}
	days, err := u.st.Usage(ctx, appID, day, day)
	if err != nil {
		return 0, fmt.Errorf("usage: %w", err)
	}
	var base int64
	if len(days) > 0 {
		base = days[0].Searches
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.stored[k]; !ok {
		// Forget other days' cache: only today's quota is ever checked.
		for old := range u.stored {
			if old.day != day {
				delete(u.stored, old)
			}
		}
		u.stored[k] = base
	}
	return u.stored[k] + u.unstored(k), nil
}

// unstored is a day's searches not yet in the store; u.mu is held.
func (u *usageBook) unstored(k usageKey) int64 {
	n := u.flushing[k]
	if p := u.pending[k]; p != nil {
		n += p.searches
	}
	return n
}

// Flush writes pending counts to the store. Counts that fail to persist are
// kept for the next flush; the first error is returned.
func (u *usageBook) Flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = map[usageKey]*pendingUsage{}
	for k, p := range batch {
		u.flushing[k] += p.searches
	}
	u.mu.Unlock()
	var first error
	for k, p := range batch {
		devices := make([]string, 0, len(p.devices))
		for d := range p.devices {
			devices = append(devices, d)
		}
		err := u.st.AddUsage(ctx, k.app, k.day, store.UsageDelta{
			Searches: p.searches, Hits: p.hits, Misses: p.misses, Devices: devices, TargetHits: p.targetHits,
		})
		u.mu.Lock()
		if u.flushing[k] -= p.searches; u.flushing[k] == 0 {
			delete(u.flushing, k)
		}
		switch {
		case err == nil:
			if _, ok := u.stored[k]; ok {
				u.stored[k] += p.searches
			}
		case errors.Is(err, store.ErrNotFound):
			// The database was deleted; its counts go with it.
		default:
			u.merge(k, p)
			if first == nil {
				first = err
			}
		}
		u.mu.Unlock()
	}
	return first
}

// merge puts unflushed counts back; u.mu is held.
func (u *usageBook) merge(k usageKey, p *pendingUsage) {
	q := u.pending[k]
	if q == nil {
		u.pending[k] = p
		return
	}
	q.searches += p.searches
	q.hits += p.hits
	q.misses += p.misses
	for d := range p.devices {
		q.devices[d] = true
	}
	for t, n := range p.targetHits {
		q.targetHits[t] += n
	}
}
