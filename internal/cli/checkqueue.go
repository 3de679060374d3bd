package cli

import "sync"

// checkBudget bounds the bytes of the files check analyses at once. An analysis holds its file
// and summaries of its code several times its size (chromium's 283 MiB take 1.4 GiB), so on a
// machine with many CPUs a folder of large programs analysed one per CPU could exhaust memory.
const checkBudget = 1 << 30

// fileQueue hands out files largest first (so that no CPU is left with one big file at the end)
// while the files being analysed stay within a budget of bytes: a CPU that would exceed it takes
// the largest file that fits, or waits. A file larger than the budget runs when nothing else
// does.
type fileQueue struct {
	mu       sync.Mutex
	wake     *sync.Cond
	pending  []int // indexes into sizes, largest first
	sizes    []int64
	inFlight int64
	running  int
	budget   int64
	closed   bool
}

func newFileQueue(order []int, sizes []int64, budget int64) *fileQueue {
	q := &fileQueue{pending: order, sizes: sizes, budget: budget}
	q.wake = sync.NewCond(&q.mu)
	return q
}

// take returns the next file to analyse; false when none is left or the queue is closed.
func (q *fileQueue) take() (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !q.closed && len(q.pending) > 0 {
		for k, i := range q.pending {
			if q.running == 0 || q.inFlight+q.sizes[i] <= q.budget {
				q.pending = append(q.pending[:k], q.pending[k+1:]...)
				q.inFlight += q.sizes[i]
				q.running++
				return i, true
			}
		}
		q.wake.Wait()
	}
	return 0, false
}

// done says that the analysis of file i has ended.
func (q *fileQueue) done(i int) {
	q.mu.Lock()
	q.inFlight -= q.sizes[i]
	q.running--
	q.mu.Unlock()
	q.wake.Broadcast()
}

// close makes take return false from now on, to waiting callers too.
func (q *fileQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake.Broadcast()
}
