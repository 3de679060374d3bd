package cli

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// The queue must hand out every file once, largest first where the budget allows, never let
// the files in flight exceed the budget except for one file alone, and stop handing out files
// once closed.
func TestFileQueue(t *testing.T) {
	sizes := []int64{900, 50, 600, 300, 1500, 100, 20, 700}
	order := []int{4, 0, 7, 2, 3, 5, 1, 6} // largest first
	const budget = 1000
	q := newFileQueue(slices.Clone(order), sizes, budget)
	var mu sync.Mutex
	var inFlight int64
	running := 0
	var taken []int
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				i, ok := q.take()
				if !ok {
					return
				}
				mu.Lock()
				inFlight += sizes[i]
				running++
				if running > 1 && inFlight > budget {
					t.Errorf("%d files with %d bytes in flight, budget %d", running, inFlight, budget)
				}
				taken = append(taken, i)
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				inFlight -= sizes[i]
				running--
				mu.Unlock()
				q.done(i)
			}
		})
	}
	wg.Wait()
	if got := slices.Sorted(slices.Values(taken)); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("files taken: %v", taken)
	}
	if taken[0] != 4 {
		t.Fatalf("the largest file was not first: %v", taken)
	}

	// Closed, the queue hands out nothing, and wakes a waiting taker.
	q = newFileQueue([]int{0, 1}, []int64{900, 900}, budget)
	if i, ok := q.take(); !ok || i != 0 {
		t.Fatalf("first take: %d, %v", i, ok)
	}
	got := make(chan bool)
	go func() {
		_, ok := q.take() // waits: 900 more would exceed the budget
		got <- ok
	}()
	time.Sleep(10 * time.Millisecond)
	q.close()
	if <-got {
		t.Fatal("a closed queue handed out a file")
	}
}
