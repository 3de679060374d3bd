package sysscan

import (
	"math/rand"
	"testing"
)

// An addrFilter may say yes to an address it was not given, never no to one it was.
func TestAddrFilter(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, n := range []int{0, 1, 10, 1000, 100000} {
		var f addrFilter
		added := map[uint64]bool{}
		for range n {
			a := rng.Uint64() >> uint(rng.Intn(64))
			f.add(a)
			added[a] = true
		}
		for a := range added {
			if !f.mayHave(a) {
				t.Fatalf("%d addresses: %#x was added, mayHave says no", n, a)
			}
		}
		if n <= 10 {
			yes := 0
			for range 10000 {
				if a := rng.Uint64(); !added[a] && f.mayHave(a) {
					yes++
				}
			}
			if yes > 100 {
				t.Errorf("%d addresses: %d of 10000 others may be among them", n, yes)
			}
		}
	}
}
