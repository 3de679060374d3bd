package check

import (
	"os"
	"strings"
	"sync"
	"testing"
)

func TestZZProf(t *testing.T) {
	b, err := os.ReadFile("/tmp/prof/list")
	if err != nil {
		t.Skip()
	}
	files := strings.Fields(string(b))
	ch := make(chan string)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range ch {
				File(f, Requirements{})
			}
		}()
	}
	for _, f := range files {
		ch <- f
	}
	close(ch)
	wg.Wait()
}
