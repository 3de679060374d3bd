package malloc

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/ctest"
	"github.com/portabin/portabin/internal/deps"
	"github.com/portabin/portabin/internal/elfinfo"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/toolchain"
	"github.com/portabin/portabin/internal/uerr"
)

// sourcesDir returns the folder that holds Debian's mimalloc tarball, fetched by
// scripts/fetch-sources.sh into the test cache; skipped where apt's mirror cannot be reached.
func sourcesDir(t *testing.T) string {
	t.Helper()
	return ctest.FetchSources(t, "-d", "mimalloc")[0]
}

// Every allocation entry point, and C++'s operator new, must give memory from mimalloc's heap
// (mi_is_in_heap_region), including memory musl allocates for the program (strdup, getline):
// a pointer from musl's allocator freed by mimalloc's free would corrupt both heaps.
const probe = `#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int mi_version(void);
bool mi_is_in_heap_region(const void *p);
static int bad;
static void *in(const char *what, void *p) {
	if (!p || !mi_is_in_heap_region(p)) { printf("%s: not mimalloc's\n", what); bad = 1; }
	return p;
}
static void *other(void *p) { free(p); return in("thread malloc", malloc(100)); }
int main(void) {
	void *m = in("malloc", malloc(24));
	in("calloc", calloc(10, 100));
	m = in("realloc", realloc(m, 100000));
	in("aligned_alloc", aligned_alloc(64, 256));
	void *pm = 0;
	posix_memalign(&pm, 4096, 10);
	in("posix_memalign", pm);
	in("memalign", memalign(128, 10));
	in("strdup", strdup("musl allocates this"));
	if (malloc_usable_size(m) < 100000) { puts("malloc_usable_size is not mimalloc's"); bad = 1; }
	pthread_t t;
	void *r;
	pthread_create(&t, 0, other, m);
	pthread_join(t, &r);
	free(r);
	printf("mimalloc %d%s\n", mi_version(), bad ? " BAD" : "");
	return bad;
}
`

const probeCXX = `#include <cstdio>
#include <string>
#include <vector>
extern "C" bool mi_is_in_heap_region(const void *p);
int main() {
	std::vector<std::string> v(100, std::string(200, 'x'));
	int *a = new int[10];
	auto *s = new std::string(500, 'y');
	bool ok = mi_is_in_heap_region(a) && mi_is_in_heap_region(v.data()) && mi_is_in_heap_region(s->data());
	delete[] a;
	delete s;
	std::printf("operator new %s\n", ok ? "is mimalloc's" : "is not mimalloc's");
	return !ok;
}
`

func TestMimalloc(t *testing.T) {
	sources := sourcesDir(t)
	a, err := Lookup("mimalloc")
	if err != nil {
		t.Fatal(err)
	}
	host, _ := target.Host()
	type toolCase struct {
		name   string
		tc     toolchain.Toolchain
		target string
		cxx    bool
	}
	cases := []toolCase{
		{"zig", toolchain.NewZig(toolchain.ZigOptions{}), "x86_64-linux-musl", true},
		{"zig", toolchain.NewZig(toolchain.ZigOptions{}), "aarch64-linux-musl", true},
	}
	if _, err := exec.LookPath("musl-gcc"); err == nil && host.Name == "x86_64-linux-musl" {
		cases = append(cases, toolCase{"musl-gcc", toolchain.NewMuslGCC(), "x86_64-linux-musl", false})
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.target, func(t *testing.T) {
			tg, err := target.Parse(c.target)
			if err != nil {
				t.Fatal(err)
			}
			var run []string
			if tg.Name != host.Name {
				qemu, err := exec.LookPath(tg.QEMU)
				if err != nil {
					t.Skipf("%s not installed", tg.QEMU)
				}
				run = []string{qemu}
			}
			ctx := context.Background()
			dir := t.TempDir()
			cfg, err := c.tc.Prepare(ctx, tg, toolchain.Options{SourceDir: dir, BuildDir: dir, CXX: c.cxx})
			if err != nil {
				t.Fatalf("%v\n%s", err, uerr.DetailOf(err))
			}
			obj, err := Build(ctx, a, &deps.Fetcher{Sources: sources}, cfg, tg, c.tc.ID())
			if err != nil {
				t.Fatalf("%v\n%s", err, uerr.DetailOf(err))
			}
			cfg.Malloc = obj
			exe := link(t, cfg, ccwrap.CC, dir, "probe.c", probe)
			out := runProbe(t, run, exe, "MIMALLOC_SHOW_STATS=1")
			if !strings.HasPrefix(out.stdout, "mimalloc 209\n") || !strings.Contains(out.stderr, "heap stats:") {
				t.Errorf("probe: stdout %q, stderr %q", out.stdout, out.stderr)
			}
			if c.cxx {
				exe := link(t, cfg, ccwrap.CXX, dir, "probe.cc", probeCXX)
				if out := runProbe(t, run, exe); out.stdout != "operator new is mimalloc's\n" {
					t.Errorf("C++ probe: stdout %q, stderr %q", out.stdout, out.stderr)
				}
			}
		})
	}
}

// link compiles and links one source through the wrapper configuration, as a build would,
// and checks that the result is fully static.
func link(t *testing.T, cfg ccwrap.Config, tool ccwrap.Tool, dir, name, code string) string {
	t.Helper()
	src, exe := filepath.Join(dir, name), filepath.Join(dir, strings.TrimSuffix(name, filepath.Ext(name))+"-"+filepath.Ext(name)[1:])
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	argv, _, err := cfg.Command(tool, []string{"-O2", src, "-o", exe})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), cfg.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	info, err := elfinfo.Inspect(exe)
	if err != nil {
		t.Fatal(err)
	}
	if info.Linking != elfinfo.Static {
		t.Errorf("%s links %s, want static", exe, info.Linking)
	}
	return exe
}

type output struct{ stdout, stderr string }

func runProbe(t *testing.T, prefix []string, exe string, env ...string) output {
	t.Helper()
	argv := append(append([]string(nil), prefix...), exe)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("%s: %v\n%s%s", exe, err, stdout.String(), stderr.String())
	}
	return output{stdout.String(), stderr.String()}
}

func TestLookupUnknown(t *testing.T) {
	if _, err := Lookup("jemalloc"); uerr.Code(err) != uerr.ExitUsage {
		t.Errorf("Lookup(jemalloc) = %v, want a usage error", err)
	}
}
