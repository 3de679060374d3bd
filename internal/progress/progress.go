// Package progress shows the steps of long work: a live line on a terminal, plain lines otherwise.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Reporter writes progress to one stream. A nil *Reporter reports nothing.
type Reporter struct {
	w    io.Writer
	live bool
	mu   sync.Mutex
}

// New returns a Reporter on w; it animates when w is a terminal.
func New(w io.Writer) *Reporter {
	live := false
	if f, ok := w.(*os.File); ok {
		live = term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb"
	}
	return &Reporter{w: w, live: live}
}

// Step is one long piece of work in progress.
type Step struct {
	r      *Reporter
	label  string
	mu     sync.Mutex
	status string
	start  time.Time
	stop   chan struct{}
	done   sync.WaitGroup
}

// Start announces a step. On a terminal the line shows the time spent until Done.
func (r *Reporter) Start(format string, args ...any) *Step {
	s := &Step{r: r, label: fmt.Sprintf(format, args...), start: time.Now(), stop: make(chan struct{})}
	if r == nil {
		return s
	}
	if !r.live {
		r.printf("portabin: %s\n", s.label)
		return s
	}
	s.done.Add(1)
	go s.animate()
	return s
}

var spinner = []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

func (s *Step) animate() {
	defer s.done.Done()
	tick := time.NewTicker(120 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		s.mu.Lock()
		status := s.status
		s.mu.Unlock()
		if status != "" {
			status = ", " + status
		}
		s.r.printf("\r\033[K%c portabin: %s (%s%s)", spinner[i%len(spinner)], s.label, since(s.start), status)
		select {
		case <-s.stop:
			s.r.printf("\r\033[K")
			return
		case <-tick.C:
		}
	}
}

// Update shows how far the step has got, e.g. "3/12 cells", on a terminal's live line.
// Plain output stays one line per step, for logs.
func (s *Step) Update(format string, args ...any) {
	s.mu.Lock()
	s.status = fmt.Sprintf(format, args...)
	s.mu.Unlock()
}

// Done ends the step; err, when not nil, marks it failed.
func (s *Step) Done(err error) {
	if s.r == nil {
		return
	}
	if s.r.live {
		close(s.stop)
		s.done.Wait()
	}
	status := "done"
	if err != nil {
		status = "failed"
	}
	s.r.printf("portabin: %s: %s in %s\n", s.label, status, since(s.start))
}

// Printf writes one plain line.
func (r *Reporter) Printf(format string, args ...any) {
	if r == nil {
		return
	}
	r.printf("portabin: "+format+"\n", args...)
}

func (r *Reporter) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, format, args...)
}

func since(t time.Time) string {
	d := time.Since(t)
	if d < 10*time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
