package index

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/opencrs/opencrs/internal/feature"
)

// TrainConfig configures Train. Zero fields take the documented defaults.
type TrainConfig struct {
	Branching  int    // children per node; default 10
	Depth      int    // levels below the root; default 5 (10⁵ words at branching 10)
	Iterations int    // maximum k-majority iterations per node; default 10
	Seed       uint64 // the tree is a deterministic function of the input and Seed
	Workers    int    // goroutines; default GOMAXPROCS. Does not change the result.

	// Progress, if set, is called (from any goroutine, serialised) as
	// top-level subtrees finish, with done of total.
	Progress func(done, total int)
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.Branching == 0 {
		c.Branching = 10
	}
	if c.Depth == 0 {
		c.Depth = 5
	}
	if c.Iterations == 0 {
		c.Iterations = 10
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	return c
}

// Train builds a vocabulary tree from the descriptors of a set of training
// images (one slice per image; the grouping is used only for the idf
// weights). Each node's descriptors are split into Branching clusters by
// k-majority — k-means with Hamming distance and bitwise-majority centroids,
// seeded k-means++ style — and each cluster is split again until Depth is
// reached or a cluster has no more descriptors than Branching.
func Train(ctx context.Context, images [][]feature.Descriptor, cfg TrainConfig) (*Vocabulary, error) {
	cfg = cfg.withDefaults()
	if cfg.Branching < 2 || cfg.Branching > maxBranching || cfg.Depth < 1 || cfg.Depth > maxDepth {
		return nil, fmt.Errorf("index: train: branching %d, depth %d out of range", cfg.Branching, cfg.Depth)
	}
	total := 0
	for _, im := range images {
		total += len(im)
	}
	if total <= cfg.Branching {
		return nil, fmt.Errorf("index: train: %d descriptors is too few for branching %d", total, cfg.Branching)
	}
	// Training reorders descriptors to partition them, so work on a copy.
	all := make([]feature.Descriptor, 0, total)
	for _, im := range images {
		all = append(all, im...)
	}

	t := &trainer{cfg: cfg, sem: make(chan struct{}, cfg.Workers-1)}
	root := &tnode{}
	t.progressTotal = cfg.Branching
	t.split(ctx, root, all, 0, cfg.Seed)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("index: train: %w", err)
	}

	// Flatten breadth first.
	var nchild []uint8
	var centroids []feature.Descriptor
	queue := []*tnode{root}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		nchild = append(nchild, uint8(len(n.children)))
		centroids = append(centroids, n.centroid)
		queue = append(queue, n.children...)
	}
	v, err := newVocabulary(cfg.Branching, cfg.Depth, nchild, centroids, nil)
	if err != nil {
		return nil, fmt.Errorf("index: train: %w", err)
	}
	v.idf = trainingIDF(v, images)
	return v, nil
}

// trainingIDF returns log(images / images containing the word), with words
// no image contains weighted as if one did.
func trainingIDF(v *Vocabulary, images [][]feature.Descriptor) []float32 {
	df := make([]int, v.words)
	last := make([]int, v.words)
	for i := range last {
		last[i] = -1
	}
	for i, im := range images {
		for j := range im {
			w := v.Lookup(&im[j])
			if last[w] != i {
				last[w] = i
				df[w]++
			}
		}
	}
	idf := make([]float32, v.words)
	for w, n := range df {
		idf[w] = float32(math.Log(float64(len(images)) / float64(max(n, 1))))
	}
	return idf
}

type tnode struct {
	centroid feature.Descriptor
	children []*tnode
}

type trainer struct {
	cfg           TrainConfig
	sem           chan struct{} // tokens for extra goroutines
	mu            sync.Mutex    // serialises Progress
	progressDone  int
	progressTotal int
	cancelled     atomic.Bool
}

// split clusters descs (which it reorders) into the children of n and
// recurses. Children run on other goroutines while tokens are free, inline
// otherwise, so the goroutine count stays bounded without deadlock.
func (t *trainer) split(ctx context.Context, n *tnode, descs []feature.Descriptor, level int, seed uint64) {
	if level >= t.cfg.Depth || len(descs) <= t.cfg.Branching {
		return
	}
	if t.cancelled.Load() || ctx.Err() != nil {
		t.cancelled.Store(true)
		return
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	workers := 1
	if len(descs) >= 1<<16 {
		workers = t.cfg.Workers
	}
	centers, assign := kmajority(descs, t.cfg.Branching, t.cfg.Iterations, rng, workers)
	parts := partition(descs, assign, len(centers))
	if level == 0 {
		t.progressTotal = len(centers)
	}
	n.children = make([]*tnode, len(centers))
	var wg sync.WaitGroup
	for i := range centers {
		c := &tnode{centroid: centers[i]}
		n.children[i] = c
		childSeed := mix(seed, uint64(i)+1)
		run := func() {
			t.split(ctx, c, parts[i], level+1, childSeed)
			if level == 0 {
				t.progress()
			}
		}
		select {
		case t.sem <- struct{}{}:
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-t.sem }()
				run()
			}()
		default:
			run()
		}
	}
	wg.Wait()
}

func (t *trainer) progress() {
	if t.cfg.Progress == nil {
		return
	}
	t.mu.Lock()
	t.progressDone++
	t.cfg.Progress(t.progressDone, t.progressTotal)
	t.mu.Unlock()
}

// mix derives a child seed (SplitMix64 finaliser), so every subtree has its
// own random stream regardless of the order subtrees are trained in.
func mix(a, b uint64) uint64 {
	z := a ^ (b * 0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// partition reorders descs so each cluster is contiguous (cluster order,
// stable within a cluster) and returns the per-cluster subslices.
func partition(descs []feature.Descriptor, assign []uint8, k int) [][]feature.Descriptor {
	start := make([]int, k+1)
	for _, a := range assign {
		start[a+1]++
	}
	for i := 1; i <= k; i++ {
		start[i] += start[i-1]
	}
	tmp := make([]feature.Descriptor, len(descs))
	pos := append([]int(nil), start[:k]...)
	for i, a := range assign {
		tmp[pos[a]] = descs[i]
		pos[a]++
	}
	copy(descs, tmp)
	parts := make([][]feature.Descriptor, k)
	for i := range parts {
		parts[i] = descs[start[i]:start[i+1]:start[i+1]]
	}
	return parts
}

// kmajority clusters descs into at most k clusters and returns the centroids
// and each descriptor's cluster. Empty clusters are dropped. The final
// assignment is to the nearest final centroid, so training partitions agree
// with what Lookup does later.
func kmajority(descs []feature.Descriptor, k, iters int, rng *rand.Rand, workers int) ([]feature.Descriptor, []uint8) {
	centers := seedPlusPlus(descs, k, rng)
	assign := make([]uint8, len(descs))
	for i := range assign {
		assign[i] = 0xff // forces "changed" on the first pass
	}
	var counts [][256]uint32
	for it := 0; ; it++ {
		var changed int
		changed, counts = assignPass(descs, centers, assign, workers)
		if changed == 0 || it >= iters {
			break
		}
		sizes := clusterSizes(assign, len(centers))
		for c := range centers {
			if sizes[c] > 0 {
				centers[c] = majority(&counts[c], sizes[c])
			}
		}
	}
	// Drop empty clusters and renumber.
	sizes := clusterSizes(assign, len(centers))
	remap := make([]uint8, len(centers))
	kept := centers[:0]
	for c := range centers {
		if sizes[c] > 0 {
			remap[c] = uint8(len(kept))
			kept = append(kept, centers[c])
		}
	}
	if len(kept) != len(remap) {
		for i, a := range assign {
			assign[i] = remap[a]
		}
	}
	return kept, assign
}

func clusterSizes(assign []uint8, k int) []int {
	sizes := make([]int, k)
	for _, a := range assign {
		sizes[a]++
	}
	return sizes
}

func majority(count *[256]uint32, size int) feature.Descriptor {
	var d feature.Descriptor
	for b, c := range count {
		if int(c)*2 > size {
			d[b>>6] |= 1 << (b & 63)
		}
	}
	return d
}

// seedPlusPlus picks up to k distinct centres: the first uniformly, each next
// with probability proportional to the squared Hamming distance to the
// nearest centre already picked. Fewer than k come back when the data has
// fewer distinct points.
func seedPlusPlus(descs []feature.Descriptor, k int, rng *rand.Rand) []feature.Descriptor {
	centers := make([]feature.Descriptor, 0, k)
	centers = append(centers, descs[rng.IntN(len(descs))])
	dist := make([]uint32, len(descs))
	for i := range dist {
		dist[i] = math.MaxUint32
	}
	for len(centers) < k {
		c := &centers[len(centers)-1]
		var total uint64
		for i := range descs {
			d := uint32(feature.Distance(&descs[i], c))
			d *= d
			if d < dist[i] {
				dist[i] = d
			}
			total += uint64(dist[i])
		}
		if total == 0 {
			break
		}
		r := rng.Uint64N(total)
		pick := len(descs) - 1
		for i, d := range dist {
			if r < uint64(d) {
				pick = i
				break
			}
			r -= uint64(d)
		}
		centers = append(centers, descs[pick])
	}
	return centers
}

// assignPass assigns every descriptor to its nearest centre, returns how many
// assignments changed, and the per-cluster bit counts of the new assignment.
// Chunks are fixed by len(descs) and workers, and their counts are summed as
// integers, so the result does not depend on scheduling.
func assignPass(descs []feature.Descriptor, centers []feature.Descriptor, assign []uint8, workers int) (int, [][256]uint32) {
	k := len(centers)
	chunks := min(workers, max(1, len(descs)/4096))
	type result struct {
		changed int
		counts  [][256]uint32
	}
	res := make([]result, chunks)
	var wg sync.WaitGroup
	for ci := 0; ci < chunks; ci++ {
		lo, hi := ci*len(descs)/chunks, (ci+1)*len(descs)/chunks
		work := func() {
			counters := make([]bitCounter, k)
			changed := 0
			for i := lo; i < hi; i++ {
				d := &descs[i]
				best, bestD := 0, math.MaxInt
				for c := range centers {
					if dd := feature.Distance(&centers[c], d); dd < bestD {
						best, bestD = c, dd
					}
				}
				if assign[i] != uint8(best) {
					assign[i] = uint8(best)
					changed++
				}
				counters[best].add(d)
			}
			r := result{changed: changed, counts: make([][256]uint32, k)}
			for c := range counters {
				counters[c].counts(&r.counts[c])
			}
			res[ci] = r
		}
		if chunks == 1 {
			work()
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); work() }()
	}
	wg.Wait()
	changed, counts := res[0].changed, res[0].counts
	for _, r := range res[1:] {
		changed += r.changed
		for c := range counts {
			for b := range counts[c] {
				counts[c][b] += r.counts[c][b]
			}
		}
	}
	return changed, counts
}

// bitCounter counts, for each of the 256 bit positions, how many added
// descriptors have it set. It keeps the counts bit-sliced ("vertical"): plane
// p holds bit p of all 256 counters, so adding a descriptor is a ripple-carry
// increment over whole 64-bit words instead of 256 separate increments.
type bitCounter struct {
	planes [32][4]uint64
	used   int
}

func (c *bitCounter) add(d *feature.Descriptor) {
	for w := range d {
		carry := d[w]
		p := 0
		for ; carry != 0; p++ {
			old := c.planes[p][w]
			c.planes[p][w] = old ^ carry
			carry &= old
		}
		c.used = max(c.used, p)
	}
}

func (c *bitCounter) counts(out *[256]uint32) {
	for p := 0; p < c.used; p++ {
		for w := range c.planes[p] {
			x := c.planes[p][w]
			for x != 0 {
				b := bits.TrailingZeros64(x)
				out[w*64+b] += 1 << p
				x &= x - 1
			}
		}
	}
}
