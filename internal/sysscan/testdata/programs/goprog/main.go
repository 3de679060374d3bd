// A Go program for the scanner: goroutines, files, and a raw syscall.
package main

import (
	"fmt"
	"os"
	"sync"
	"syscall"
)

func main() {
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = os.ReadFile("/proc/self/stat") }()
	}
	wg.Wait()
	pid, _, errno := syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	fmt.Println("getpid:", pid, errno)
}
