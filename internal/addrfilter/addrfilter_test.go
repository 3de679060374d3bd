package addrfilter

import (
	"math/rand"
	"testing"
)

// A Filter may say yes to an address it was not given, never no to one it was.
func TestFilter(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, n := range []int{0, 1, 10, 1000, 100000} {
		var f Filter
		added := map[uint64]bool{}
		for range n {
			a := rng.Uint64() >> uint(rng.Intn(64))
			f.Add(a)
			added[a] = true
		}
		for a := range added {
			if !f.MayHave(a) {
				t.Fatalf("%d addresses: %#x was added, mayHave says no", n, a)
			}
		}
		if n <= 10 {
			yes := 0
			for range 10000 {
				if a := rng.Uint64(); !added[a] && f.MayHave(a) {
					yes++
				}
			}
			if yes > 100 {
				t.Errorf("%d addresses: %d of 10000 others may be among them", n, yes)
			}
		}
	}
}
