package main

import (
	"bufio"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The syscalls(2) table stops at Linux 5.14 in every man-pages release so far
// (6.03 through 6.20): calls added since are documented only on their own
// pages, in a HISTORY section ("Linux 6.5."). history.tsv holds what those
// sections say about the calls syscalls(2) does not list. history.sh makes it
// from a manpages-dev package; committing the extract keeps the generator
// reproducible after the package leaves the archive.
//
//go:embed history.tsv
var historyTSV string

// history is the second source: kernel versions from the calls' own pages.
type history struct {
	source string            // e.g. "man-pages 6.20 (Debian manpages-dev 6.20-2)"
	since  map[string]string // call → "6.5"
	page   map[string]string // call → the page that says so, "cachestat(2)"
}

// parseHistoryTSV reads history.tsv: "# source: ..." then "name\tversion\tpage" rows.
func parseHistoryTSV(src string) (history, error) {
	h := history{since: map[string]string{}, page: map[string]string{}}
	for i, line := range strings.Split(src, "\n") {
		switch {
		case strings.HasPrefix(line, "# source: "):
			h.source = strings.TrimPrefix(line, "# source: ")
			continue
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		}
		cells := strings.Split(line, "\t")
		if len(cells) != 3 || !versionLine.MatchString("Linux "+cells[1]+".") {
			return h, fmt.Errorf("history.tsv line %d: want NAME<TAB>VERSION<TAB>PAGE, got %q", i+1, line)
		}
		if _, dup := h.since[cells[0]]; dup {
			return h, fmt.Errorf("history.tsv line %d: %s listed twice", i+1, cells[0])
		}
		h.since[cells[0]], h.page[cells[0]] = cells[1], cells[2]
	}
	if h.source == "" {
		return h, fmt.Errorf(`history.tsv: no "# source: " line`)
	}
	return h, nil
}

var (
	// A HISTORY line that is only a kernel version: "Linux 5.12," or "Linux 6.5."
	versionLine = regexp.MustCompile(`^Linux ([0-9]+\.[0-9]+(?:\.[0-9]+)?)[.,]?$`)
	// A function named as a .TP tag in HISTORY: `.BR \%open_tree_attr ()`
	functionTag = regexp.MustCompile(`^\.BR?\s+(?:\\%)?([A-Za-z0-9_]+)\s*\(\)$`)
)

// pageHistory reads a manual page's HISTORY section and returns the kernel
// version it gives for each function: the page's own name when the section
// is one version, each tagged function's when it is a .TP list. Lines that
// are not just a version (standards, "Removed in Linux 5.5", prose) say
// nothing about when a call appeared and are skipped.
func pageHistory(r io.Reader, pageName string) (map[string]string, error) {
	found := map[string]string{}
	current := pageName
	inHistory := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, ".SH") {
			inHistory = strings.TrimSpace(strings.TrimPrefix(line, ".SH")) == "HISTORY"
			continue
		}
		if !inHistory || strings.HasPrefix(line, `.\"`) {
			continue
		}
		if m := functionTag.FindStringSubmatch(line); m != nil {
			current = m[1]
			continue
		}
		if m := versionLine.FindStringSubmatch(line); m != nil {
			if _, ok := found[current]; !ok {
				found[current] = m[1]
			}
		}
	}
	return found, sc.Err()
}

// extractHistory reads the section-2 pages in dir (a manpages-dev package's
// usr/share/man/man2) and returns history.tsv for the calls in wanted.
func extractHistory(dir, source string, wanted map[string]bool) ([]byte, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.2.gz"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no *.2.gz pages in %s", dir)
	}
	since, page := map[string]string{}, map[string]string{}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".2.gz")
		versions, err := readPageHistory(path, name)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		for call, v := range versions {
			if !wanted[call] {
				continue
			}
			if old, ok := since[call]; ok && old != v {
				return nil, fmt.Errorf("%s: %s(2) says %s, %s says %s", call, name, v, page[call], old)
			}
			since[call], page[call] = v, name+"(2)"
		}
	}
	names := make([]string, 0, len(since))
	for n := range since {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "# Kernel versions of system calls that syscalls(2) does not list, from the\n"+
		"# HISTORY section of each call's own page. Written by history.sh; do not edit.\n"+
		"# source: %s\n", source)
	for _, n := range names {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", n, since[n], page[n])
	}
	return []byte(b.String()), nil
}

func readPageHistory(path, name string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return pageHistory(gz, name)
}
