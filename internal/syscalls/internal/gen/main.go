// Command gen writes the syscalls package's table.go by joining three sources:
// the syscalls(2) manual page (which kernel version introduced each call), the
// HISTORY sections of newer calls' own pages (history.tsv, for calls
// syscalls(2) does not list) and golang.org/x/sys/unix's
// zsysnum_linux_<goarch>.go files (each call's number per architecture).
//
// Run it with `go generate ./internal/syscalls`; history.sh refreshes
// history.tsv.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// defaultManPage is where Debian's manpages-dev installs syscalls(2).
const defaultManPage = "/usr/share/man/man2/syscalls.2.gz"

// arches pairs portabin's architecture names (target.Target.Arch) with the
// GOARCH suffix of x/sys's zsysnum file. The order is the order of the number
// columns in table.go.
var arches = []struct{ name, goarch string }{
	{"x86_64", "amd64"},
	{"aarch64", "arm64"},
	{"riscv64", "riscv64"},
	{"arm", "arm"},
	{"i386", "386"},
}

// aliases maps an x/sys name (SYS_ prefix dropped, lower case) to the name
// syscalls(2) lists the same call under. Only real renames belong here; a
// call missing from the man page is not an alias of an older sibling
// (clock_gettime64 is not clock_gettime: it arrived decades later).
var aliases = map[string]string{
	// ARM's kernel names for the 64-bit-offset variants with reordered
	// arguments; syscalls(2) lists them under the generic names (its source
	// notes that sync_file_range2 "first appeared on ARM, as
	// arm_sync_file_range(), but later renamed").
	"arm_fadvise64_64":    "fadvise64_64",
	"arm_sync_file_range": "sync_file_range2",
}

// notSyscalls are SYS_ constants in x/sys that name no system call.
var notSyscalls = map[string]string{
	"syscall_mask":          "ARM: a mask for OABI numbers, equal to 0 like restart_syscall",
	"arch_specific_syscall": "asm-generic: the first number reserved for architecture-private calls",
}

func main() {
	manPagePath := flag.String("manpage", defaultManPage, "syscalls(2) source, gzip-compressed or not")
	xsysDir := flag.String("xsys", "", "golang.org/x/sys module directory (default: from `go mod download`)")
	out := flag.String("o", "table.go", "file to write")
	historyPages := flag.String("history-pages", "", "extract history.tsv from this folder of section-2 pages instead of writing table.go")
	historySource := flag.String("history-source", "", "with -history-pages: the pages' man-pages and package versions, for the citation")
	flag.Parse()

	var err error
	if *historyPages != "" {
		err = runHistory(*manPagePath, *xsysDir, *historyPages, *historySource, *out)
	} else {
		err = run(*manPagePath, *xsysDir, *out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

func run(manPagePath, xsysDir, out string) error {
	xsys, err := locateXSys(xsysDir)
	if err != nil {
		return err
	}
	src, err := generate(manPagePath, xsys)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// runHistory writes history.tsv: what the pages in dir say about the calls
// that x/sys numbers and syscalls(2) does not list.
func runHistory(manPagePath, xsysDir, dir, source, out string) error {
	if source == "" {
		return fmt.Errorf("-history-pages needs -history-source")
	}
	xsys, err := locateXSys(xsysDir)
	if err != nil {
		return err
	}
	rows, _, err := joinSources(manPagePath, xsys, history{})
	if err != nil {
		return err
	}
	wanted := map[string]bool{}
	for _, r := range rows {
		if r.status == "unlisted" {
			wanted[r.name] = true
		}
	}
	tsv, err := extractHistory(dir, source, wanted)
	if err != nil {
		return err
	}
	return os.WriteFile(out, tsv, 0o644)
}

func locateXSys(xsysDir string) (xsysModule, error) {
	xsys := xsysModule{Dir: xsysDir, Version: "(unknown version)"}
	if _, version, ok := strings.Cut(filepath.Base(xsysDir), "@"); ok {
		xsys.Version = version // a module cache directory, golang.org/x/sys@v0.50.0
	}
	if xsysDir == "" {
		return findXSys()
	}
	return xsys, nil
}

// xsysModule is golang.org/x/sys as `go mod download -json` describes it.
type xsysModule struct {
	Dir, Version string
}

// findXSys locates the golang.org/x/sys the main module requires, downloading
// it into the module cache if needed.
func findXSys() (xsysModule, error) {
	wd, err := os.Getwd()
	if err != nil {
		return xsysModule{}, err
	}
	cmd := exec.Command("go", "mod", "download", "-json", "golang.org/x/sys")
	cmd.Dir = wd
	cmd.Env = os.Environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return xsysModule{}, fmt.Errorf("locating golang.org/x/sys: %w\n%s%s", err, stdout, stderr.Bytes())
	}
	var m xsysModule
	if err := json.Unmarshal(stdout, &m); err != nil {
		return xsysModule{}, fmt.Errorf("locating golang.org/x/sys: %w", err)
	}
	if m.Dir == "" {
		return xsysModule{}, fmt.Errorf("locating golang.org/x/sys: go mod download gave no directory:\n%s", stdout)
	}
	return m, nil
}

// generate returns the formatted source of table.go.
func generate(manPagePath string, xsys xsysModule) ([]byte, error) {
	hist, err := parseHistoryTSV(historyTSV)
	if err != nil {
		return nil, err
	}
	rows, page, err := joinSources(manPagePath, xsys, hist)
	if err != nil {
		return nil, err
	}
	return render(page, hist, xsys, rows)
}

func joinSources(manPagePath string, xsys xsysModule, hist history) ([]row, manPage, error) {
	page, err := readManPage(manPagePath)
	if err != nil {
		return nil, page, err
	}
	numbers := make([]map[string]int, len(arches))
	for i, a := range arches {
		path := filepath.Join(xsys.Dir, "unix", "zsysnum_linux_"+a.goarch+".go")
		if numbers[i], err = readSysnum(path); err != nil {
			return nil, page, err
		}
	}
	rows, err := join(page, hist, numbers)
	return rows, page, err
}

// manPage is what syscalls(2) says.
type manPage struct {
	version, date string // from .TH, e.g. "6.03", "2023-02-05"
	calls         map[string]manRow
	// unimplemented are the calls whose slots the kernel reserves without
	// implementing them (afs_syscall, tuxcall, ...).
	unimplemented map[string]bool
}

// manRow is one row of the "System call list" table, cleaned of troff.
type manRow struct {
	kernel, notes string
}

func readManPage(path string) (manPage, error) {
	f, err := os.Open(path)
	if err != nil {
		return manPage{}, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return manPage{}, fmt.Errorf("reading %s: %w", path, err)
		}
		r = gz
	}
	page, err := parseManPage(r)
	if err != nil {
		return manPage{}, fmt.Errorf("parsing %s: %w", path, err)
	}
	return page, nil
}

var (
	// .TH syscalls 2 2023-02-05 "Linux man-pages 6.03"
	thLine = regexp.MustCompile(`^\.TH\s+syscalls\s+2\s+(\S+)\s+"Linux man-pages ([^"]+)"`)
	// \fBstatx\fP(2)
	nameCell = regexp.MustCompile(`^\\fB([A-Za-z0-9_]+)\\fP\(2\)$`)
	// .BR afs_syscall (2), \" comment
	brLine = regexp.MustCompile(`^\.BR\s+([A-Za-z0-9_]+)\s+\(2\)`)
)

// parseManPage reads the tbl(1) table of syscalls(2): one row per call, cells
// separated by tabs, a multi-line cell between "T{" and "T}". It fails on any
// line it does not understand, so that a reformatted page is noticed.
func parseManPage(r io.Reader) (manPage, error) {
	page := manPage{calls: map[string]manRow{}, unimplemented: map[string]bool{}}
	const (
		prose = iota
		tableFormat
		tableRows
		afterTable
		unimplementedList
	)
	state := prose
	sc := bufio.NewScanner(r)
	lineNo := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		lineNo++
		return sc.Text(), true
	}
	for {
		line, ok := next()
		if !ok {
			break
		}
		if strings.HasPrefix(line, `.\"`) || strings.HasPrefix(line, `'\"`) {
			continue
		}
		switch state {
		case prose:
			if m := thLine.FindStringSubmatch(line); m != nil {
				page.date, page.version = m[1], m[2]
			}
			if line == ".TS" {
				state = tableFormat
			}
		case tableFormat:
			// Format lines end with the one ending in a period.
			if strings.HasSuffix(strings.TrimSpace(line), ".") {
				state = tableRows
			}
		case tableRows:
			if line == ".TE" {
				state = afterTable
				continue
			}
			if strings.TrimSpace(line) == "" || strings.Contains(line, "System call") {
				continue
			}
			cells := strings.Split(line, "\t")
			if len(cells) > 3 {
				return page, fmt.Errorf("line %d: %d cells, want at most 3: %q", lineNo, len(cells), line)
			}
			for len(cells) < 3 {
				cells = append(cells, "")
			}
			m := nameCell.FindStringSubmatch(cells[0])
			if m == nil {
				return page, fmt.Errorf("line %d: no system call name in %q", lineNo, line)
			}
			notes := cells[2]
			if notes == "T{" {
				var block []string
				for {
					l, ok := next()
					if !ok {
						return page, fmt.Errorf("line %d: T{ without T}", lineNo)
					}
					if l == "T}" {
						break
					}
					if !strings.HasPrefix(l, `.\"`) {
						block = append(block, l)
					}
				}
				notes = strings.Join(block, " ")
			}
			name := m[1]
			if _, dup := page.calls[name]; dup {
				return page, fmt.Errorf("line %d: %s listed twice", lineNo, name)
			}
			page.calls[name] = manRow{kernel: detroff(cells[1]), notes: detroff(notes)}
		case afterTable:
			if strings.Contains(line, "the following system calls are not implemented") {
				state = unimplementedList
			}
		case unimplementedList:
			if m := brLine.FindStringSubmatch(line); m != nil {
				page.unimplemented[m[1]] = true
			} else if !strings.HasPrefix(line, ".") && line != "and" {
				state = afterTable
			}
		}
	}
	if err := sc.Err(); err != nil {
		return page, err
	}
	switch {
	case page.version == "":
		return page, fmt.Errorf(`no ".TH syscalls 2 DATE "Linux man-pages VERSION"" line`)
	case len(page.calls) == 0:
		return page, fmt.Errorf("no system call table")
	case len(page.unimplemented) == 0:
		return page, fmt.Errorf("no list of unimplemented system calls")
	}
	return page, nil
}

var troffEscapes = strings.NewReplacer(
	`\fB`, "", `\fI`, "", `\fR`, "", `\fP`, "",
	`\-`, "-", `\[em]`, "—", `\ `, " ", `\e`, `\`,
)

// detroff turns a cell into plain text.
func detroff(s string) string {
	return strings.Join(strings.Fields(troffEscapes.Replace(s)), " ")
}

// readSysnum returns the SYS_ constants of one zsysnum_linux_*.go file, keyed
// by lower-case name without the prefix, as syscalls(2) spells names.
func readSysnum(path string) (map[string]int, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	numbers := map[string]int{}
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, ident := range vs.Names {
				if !strings.HasPrefix(ident.Name, "SYS_") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.INT {
					return nil, fmt.Errorf("%s: %s is not an integer literal", path, ident.Name)
				}
				n, err := strconv.ParseInt(lit.Value, 0, 32)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", path, ident.Name, err)
				}
				name := strings.ToLower(strings.TrimPrefix(ident.Name, "SYS_"))
				if _, skip := notSyscalls[name]; !skip {
					numbers[name] = int(n)
				}
			}
		}
	}
	if len(numbers) == 0 {
		return nil, fmt.Errorf("%s: no SYS_ constants", path)
	}
	return numbers, nil
}

// row is one line of table.go: a call, what syscalls(2) says about it, and
// its number on each architecture (-1: none).
type row struct {
	name    string
	status  string // identifier of the package's rowStatus constant
	kernel  string
	notes   string
	numbers []int
}

func join(page manPage, hist history, numbers []map[string]int) ([]row, error) {
	byName := map[string]*row{}
	for col, archNumbers := range numbers {
		for xsysName, n := range archNumbers {
			name := xsysName
			if alias, ok := aliases[xsysName]; ok {
				name = alias
			}
			r := byName[name]
			if r == nil {
				r = &row{name: name, numbers: make([]int, len(arches))}
				for i := range r.numbers {
					r.numbers[i] = -1
				}
				switch call, listed := page.calls[name]; {
				case listed:
					r.status, r.kernel, r.notes = "listed", call.kernel, call.notes
				case page.unimplemented[name]:
					r.status = "unimplemented"
				case hist.since[name] != "":
					r.status, r.kernel = "paged", hist.since[name]
					r.notes = "not in syscalls(2); HISTORY of " + hist.page[name] + ", " + hist.source
				default:
					r.status = "unlisted"
				}
				byName[name] = r
			}
			if r.numbers[col] != -1 {
				return nil, fmt.Errorf("%s: both %d and %d are %s", arches[col].name, r.numbers[col], n, name)
			}
			r.numbers[col] = n
		}
	}
	for xsysName, name := range aliases {
		if _, ok := page.calls[name]; !ok {
			return nil, fmt.Errorf("alias %s → %s: syscalls(2) does not list %s", xsysName, name, name)
		}
	}
	rows := make([]row, 0, len(byName))
	for _, r := range byName {
		rows = append(rows, *r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	return rows, nil
}

func render(page manPage, hist history, xsys xsysModule, rows []row) ([]byte, error) {
	var b bytes.Buffer
	goarches := make([]string, len(arches))
	names := make([]string, len(arches))
	for i, a := range arches {
		goarches[i], names[i] = a.goarch, strconv.Quote(a.name)
	}
	fmt.Fprintf(&b, `// Code generated by "go run ./internal/gen"; DO NOT EDIT.

// Sources:
//   - syscalls(2) from Linux man-pages %s (%s), as in Debian's manpages-dev
//     (%s): the Kernel and Notes columns of its "System call list"
//     and its list of calls that are not implemented.
//   - for calls syscalls(2) does not list, the HISTORY section of the call's
//     own page in %s (internal/gen/history.tsv).
//   - golang.org/x/sys %s, unix/zsysnum_linux_{%s}.go: the numbers.

package syscalls

const (
	manPagesVersion = %q
	xsysVersion     = %q
)

// columns names the architectures of rows' numbers, in order.
var columns = [...]string{%s}

// aliases maps x/sys's name of a call to the name syscalls(2) lists it under.
var aliases = map[string]string{
`, page.version, page.date, defaultManPage, hist.source, xsys.Version, strings.Join(goarches, ","),
		page.version, xsys.Version, strings.Join(names, ", "))
	aliasNames := make([]string, 0, len(aliases))
	for k := range aliases {
		aliasNames = append(aliasNames, k)
	}
	sort.Strings(aliasNames)
	for _, k := range aliasNames {
		fmt.Fprintf(&b, "\t%q: %q,\n", k, aliases[k])
	}
	b.WriteString("}\n\n// rows: name, status, syscalls(2) Kernel column (or the call's page's version), Notes column, numbers.\nvar rows = []row{\n")
	for _, r := range rows {
		nums := make([]string, len(r.numbers))
		for i, n := range r.numbers {
			nums[i] = strconv.Itoa(n)
		}
		fmt.Fprintf(&b, "\t{%q, %s, %q, %q, numbers{%s}},\n", r.name, r.status, r.kernel, r.notes, strings.Join(nums, ", "))
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting table.go: %w\n%s", err, b.Bytes())
	}
	return src, nil
}
