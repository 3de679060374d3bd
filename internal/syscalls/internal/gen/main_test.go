package main

import (
	"errors"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// committed is the generated file, relative to this package.
const committed = "../../table.go"

// TestGeneratedTableIsCurrent regenerates table.go and compares it with the
// committed one, so that neither the file nor the generator drifts.
func TestGeneratedTableIsCurrent(t *testing.T) {
	if _, err := os.Stat(defaultManPage); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is missing: install Debian's manpages-dev to check table.go against its source", defaultManPage)
	}
	xsys, err := findXSys()
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(defaultManPage, xsys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
		sources := regexp.MustCompile(`(manPagesVersion|xsysVersion)\s*=\s*"[^"]*"`)
		t.Errorf("table.go is not what the generator writes from the installed sources (-generated +committed):\n%s\n"+
			"committed: %q; installed: %q\n"+
			"hint: run `go generate ./internal/syscalls` and review the diff",
			diff, sources.FindAllString(string(got), -1), sources.FindAllString(string(want), -1))
	}
}

const samplePage = `'\" t
.\" SPDX-License-Identifier: Linux-man-pages-copyleft
.TH syscalls 2 2023-02-05 "Linux man-pages 6.03"
.SH NAME
.TS
l2 le l
---
l l l.
\fBSystem call\fP	\fBKernel\fP	\fBNotes\fP

\fB_llseek\fP(2)	1.2
\fBarch_prctl\fP(2)	2.6	T{
x86_64, x86 since 4.12
T}
.\" \fBcmpxchg\fP(2)	2.6.12	T{
.\" ARM
.\" T}
\fBfgetxattr\fP(2)	2.6; 2.4.18
\fBnewfstatat\fP(2)	2.6.16	See \fBstat\fP(2)
\fBpread64\fP(2)		T{
Added as "pread" in 2.2;
renamed "pread64" in 2.6
T}
.TE
.PP
Although slots are reserved for them in the system call table,
the following system calls are not implemented in the standard kernel:
.BR afs_syscall (2), \" __NR_afs_syscall is 53 on Linux 2.6.22/i386
.\" a comment
.BR tuxcall (2),     \" __NR_tuxcall is 184 on x86_64
and
.BR vserver (2)      \" __NR_vserver is 273 on Linux 2.6.22/i386
(see also
.BR unimplemented (2)).
`

func TestParseManPage(t *testing.T) {
	page, err := parseManPage(strings.NewReader(samplePage))
	if err != nil {
		t.Fatal(err)
	}
	want := manPage{
		version: "6.03",
		date:    "2023-02-05",
		calls: map[string]manRow{
			"_llseek":    {kernel: "1.2"},
			"arch_prctl": {kernel: "2.6", notes: "x86_64, x86 since 4.12"},
			"fgetxattr":  {kernel: "2.6; 2.4.18"},
			"newfstatat": {kernel: "2.6.16", notes: "See stat(2)"},
			"pread64":    {notes: `Added as "pread" in 2.2; renamed "pread64" in 2.6`},
		},
		unimplemented: map[string]bool{"afs_syscall": true, "tuxcall": true, "vserver": true},
	}
	if diff := cmp.Diff(want, page, cmp.AllowUnexported(manPage{}, manRow{})); diff != "" {
		t.Errorf("parseManPage mismatch (-want +got):\n%s", diff)
	}
}

func TestParseManPageRejectsWhatItDoesNotKnow(t *testing.T) {
	tests := map[string]string{
		"unknown row":    strings.Replace(samplePage, `\fB_llseek\fP(2)	1.2`, `_llseek	1.2`, 1),
		"extra cell":     strings.Replace(samplePage, `\fB_llseek\fP(2)	1.2`, "\\fB_llseek\\fP(2)\t1.2\tx\ty", 1),
		"duplicate":      strings.Replace(samplePage, `\fBfgetxattr\fP`, `\fB_llseek\fP`, 1),
		"no .TH":         strings.Replace(samplePage, ".TH", ".XX", 1),
		"unclosed T{":    samplePage[:strings.Index(samplePage, "T}")],
		"no table":       strings.Replace(samplePage, ".TS", ".XX", 1),
		"no unimpl list": strings.Replace(samplePage, "not implemented", "xxx", 1),
	}
	for name, src := range tests {
		if _, err := parseManPage(strings.NewReader(src)); err == nil {
			t.Errorf("%s: parseManPage succeeded", name)
		}
	}
}

func TestJoin(t *testing.T) {
	page := manPage{
		calls: map[string]manRow{
			"read":             {kernel: "1.0"},
			"fadvise64_64":     {kernel: "2.6"},
			"sync_file_range2": {kernel: "2.6.22"},
		},
		unimplemented: map[string]bool{"tuxcall": true},
	}
	numbers := make([]map[string]int, len(arches))
	for i := range numbers {
		numbers[i] = map[string]int{"read": i}
	}
	numbers[0]["tuxcall"] = 184
	numbers[3]["arm_fadvise64_64"] = 270
	numbers[3]["arm_sync_file_range"] = 341
	numbers[4]["fadvise64_64"] = 272
	numbers[4]["clock_gettime64"] = 403
	rows, err := join(page, history{}, numbers)
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{name: "clock_gettime64", status: "unlisted", numbers: []int{-1, -1, -1, -1, 403}},
		{name: "fadvise64_64", status: "listed", kernel: "2.6", numbers: []int{-1, -1, -1, 270, 272}},
		{name: "read", status: "listed", kernel: "1.0", numbers: []int{0, 1, 2, 3, 4}},
		{name: "sync_file_range2", status: "listed", kernel: "2.6.22", numbers: []int{-1, -1, -1, 341, -1}},
		{name: "tuxcall", status: "unimplemented", numbers: []int{184, -1, -1, -1, -1}},
	}
	if diff := cmp.Diff(want, rows, cmp.AllowUnexported(row{})); diff != "" {
		t.Errorf("join mismatch (-want +got):\n%s", diff)
	}

	// Two numbers for one call on one architecture means an alias is wrong.
	numbers[3]["fadvise64_64"] = 1
	if _, err := join(page, history{}, numbers); err == nil {
		t.Error("join accepted two numbers for fadvise64_64 on arm")
	}
}

func TestPageHistory(t *testing.T) {
	tests := map[string]struct {
		page string
		want map[string]string
	}{
		"one call": {".TH cachestat 2\n.SH HISTORY\nLinux 6.5.\n.SH CAVEATS\nLinux 9.9.\n", map[string]string{"cachestat": "6.5"}},
		"comments and glibc": {".SH HISTORY\n.\\\" commit 7d6beb71\nLinux 5.12,\n.\\\" Linux 1.0.\nglibc 2.36.\n",
			map[string]string{"mount_setattr": "5.12"}},
		"tagged list": {".SH HISTORY\n.TP\n.BR open_tree ()\nLinux 5.2,\nglibc 2.36.\n.TP\n.BR \\%open_tree_attr ()\nLinux 6.15.\n",
			map[string]string{"open_tree": "5.2", "open_tree_attr": "6.15"}},
		"prose is not a version": {".SH HISTORY\nRemoved in Linux 5.5, glibc 2.32.\nPOSIX.1-2001.\n", map[string]string{}},
		"no history":             {".SH STANDARDS\nLinux 6.8.\n", map[string]string{}},
	}
	for name, tt := range tests {
		page := "mount_setattr"
		if name == "one call" {
			page = "cachestat"
		}
		got, err := pageHistory(strings.NewReader(tt.page), page)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: pageHistory mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestParseHistoryTSV(t *testing.T) {
	h, err := parseHistoryTSV(historyTSV)
	if err != nil {
		t.Fatalf("the committed history.tsv: %v", err)
	}
	if h.since["futex_waitv"] != "5.16" || !strings.Contains(h.source, "man-pages") {
		t.Errorf("history.tsv: futex_waitv %q, source %q", h.since["futex_waitv"], h.source)
	}
	for name, src := range map[string]string{
		"no source":   "cachestat\t6.5\tcachestat(2)\n",
		"bad version": "# source: x\ncachestat\tsix\tcachestat(2)\n",
		"two cells":   "# source: x\ncachestat\t6.5\n",
		"duplicate":   "# source: x\ncachestat\t6.5\tcachestat(2)\ncachestat\t6.6\tcachestat(2)\n",
	} {
		if _, err := parseHistoryTSV(src); err == nil {
			t.Errorf("%s: parseHistoryTSV succeeded", name)
		}
	}
}
