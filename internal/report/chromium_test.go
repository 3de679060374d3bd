package report

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium is Debian's browser; scripts/install-deps.sh test installs it.
const chromium = "/usr/bin/chromium"

// runChromium runs headless Chromium on url with a fresh profile and returns its standard output.
// The flags keep it off the network: no updates, sync, QUIC or background fetches.
func runChromium(t *testing.T, url string, args ...string) []byte {
	t.Helper()
	// Not a timing assertion: a guard so a wedged browser fails the test instead of hanging CI.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	flags := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromium, append(append(flags, args...), url)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestChromium opens the HTML report in a real browser: the rendered page must hold every cell
// of every matrix, in the grid and in the details; the page's one script must run under its
// content policy; and a screenshot is kept for people (and CI artefacts) to look at.
func TestChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s is missing (scripts/install-deps.sh test installs Debian's chromium): %v", chromium, err)
	}
	r := sample()
	page := filepath.Join(t.TempDir(), "report.html")
	if err := WriteFile(page, r); err != nil {
		t.Fatal(err)
	}

	// The link to a passing cell, whose details start closed: the script must open them.
	target := r.Executables[1].Matrix.Cells[1]
	if target.Status != "pass" {
		t.Fatalf("the sample changed: cell 2 of fstat-tool is %s", target.Status)
	}
	dom := string(runChromium(t, "file://"+page+"#x2-c2", "--dump-dom"))
	if !strings.Contains(dom, "</html>") {
		t.Fatalf("chromium returned no page:\n%.2000s", dom)
	}
	s := r.Summary()
	if got := strings.Count(dom, " data-cell="); got != s.Cells {
		t.Errorf("the rendered grid has %d cells, want %d", got, s.Cells)
	}
	if got := strings.Count(dom, " data-detail="); got != s.Cells {
		t.Errorf("the rendered page has %d cell details, want %d", got, s.Cells)
	}
	for _, e := range r.Executables {
		if e.Matrix == nil {
			continue
		}
		for _, c := range e.Matrix.Cells {
			attr := `data-cell="` + htmlAttr(cellName(c)) + `" data-status="` + string(c.Status) + `"`
			if !strings.Contains(dom, attr) {
				t.Errorf("the rendered grid lacks %s", attr)
			}
		}
	}
	if !regexp.MustCompile(`<details class="cell pass" id="x2-c2" [^>]*\bopen`).MatchString(dom) {
		t.Errorf("following the link #x2-c2 did not open that cell's details: the page's script did not run")
	}
	// Program output stays text: the page's own script is the only one.
	if n := strings.Count(dom, "<script"); n != 1 {
		t.Errorf("the rendered page has %d scripts, want 1", n)
	}

	dir := os.Getenv("PORTABIN_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report-screenshot.png")
	os.Remove(shot)
	runChromium(t, "file://"+page, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %dx%d, want 1280x2000", b.Dx(), b.Dy())
	}
	// The grid's colours must be on the page: the pass green and the fail red backgrounds.
	colours := map[color.RGBA]int{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 2 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0xff}]++
		}
	}
	for name, c := range map[string]color.RGBA{"pass": {0xdc, 0xf2, 0xe3, 0xff}, "fail": {0xfd, 0xe1, 0xdf, 0xff}, "error": {0xfd, 0xf0, 0xc8, 0xff}} {
		if colours[c] < 100 {
			t.Errorf("the screenshot shows almost no %s colour (%d samples)", name, colours[c])
		}
	}
	t.Logf("screenshot: %s", shot)
}
