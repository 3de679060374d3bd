package deps

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// PortabinExe gives the library tests (package deps_test) the executable too.
var PortabinExe = portabinExe

var (
	exeOnce sync.Once
	exePath string
	exeErr  error
)

// portabinExe builds the portabin executable that the compiler wrappers run.
func portabinExe(t *testing.T) string {
	t.Helper()
	exeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "portabin-deps-test-")
		if err != nil {
			exeErr = err
			return
		}
		exePath = filepath.Join(dir, "portabin")
		cmd := exec.Command("go", "build", "-o", exePath, "./cmd/portabin")
		cmd.Dir = filepath.Join("..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			exeErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if exeErr != nil {
		t.Fatal(exeErr)
	}
	return exePath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if exePath != "" {
		os.RemoveAll(filepath.Dir(exePath))
	}
	os.Exit(code)
}
