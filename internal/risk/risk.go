// Package risk finds what may make an executable behave differently on another machine than on
// the one it was built on.
package risk

import (
	"debug/elf"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/portabin/portabin/internal/elfimage"
	"github.com/portabin/portabin/internal/elfinfo"
)

// Finding is one risk: Kind is one of the constants below, Detail says what was found and why
// it matters, in words for the user.
type Finding struct {
	Kind   string
	Detail string
}

// Kinds of findings, in the order Analyze reports them.
const (
	Dlopen      = "dlopen"       // the program loads shared libraries at run time
	NSS         = "nss"          // static glibc with NSS lookups, which load glibc's modules at run time
	RuntimeFile = "runtime-file" // a file whose place differs between distributions
	AbsPath     = "abs-path"     // a build machine's path embedded in the program
	ExecStack   = "execstack"    // an executable stack
	TextRel     = "textrel"      // relocations in read-only code
	Stripped    = "stripped"     // no symbol table
	NoBuildID   = "no-build-id"  // no GNU build-id note
)

var kindOrder = []string{Dlopen, NSS, RuntimeFile, AbsPath, ExecStack, TextRel, Stripped, NoBuildID}

// maxScan caps the bytes read from one file for the string and call scans, so that a hostile
// section size cannot make Analyze allocate without bound.
const maxScan = 256 << 20

// Analyze checks the ELF file f, read from path, which elfinfo.Inspect described as info.
func Analyze(f *elf.File, info *elfinfo.Info, path string) (findings []Finding, err error) {
	defer func() {
		if r := recover(); r != nil {
			findings, err = nil, fmt.Errorf("checking %s: malformed ELF file: %v", path, r)
		}
	}()
	c := &check{f: f, info: info}
	if c.syms, err = elfimage.Symbols(f); err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		c.syms = nil // a broken table counts as none
	}
	c.dynsyms, _ = elfimage.DynamicSymbols(f)
	if c.strs, err = scanStrings(f); err != nil {
		return nil, fmt.Errorf("checking %s: %w", path, err)
	}
	c.libc = c.libcName()

	c.dlopen()
	c.nss()
	c.runtimeFiles()
	c.absPaths()
	if err := c.stackAndTextrel(); err != nil {
		return nil, fmt.Errorf("checking %s: %w", path, err)
	}
	if f.SectionByType(elf.SHT_SYMTAB) == nil {
		c.add(Stripped, "no .symtab: crash reports, profilers and debuggers show addresses instead of function names")
	}
	if info.BuildID == "" {
		c.add(NoBuildID, "no GNU build-id note: crash reports and debug-info servers cannot match this file to its debug information")
	}
	sort.SliceStable(c.findings, func(i, j int) bool {
		return slices.Index(kindOrder, c.findings[i].Kind) < slices.Index(kindOrder, c.findings[j].Kind)
	})
	return c.findings, nil
}

// check holds what the individual checks share.
type check struct {
	f        *elf.File
	info     *elfinfo.Info
	syms     []elf.Symbol // .symtab, nil when stripped
	dynsyms  []elf.Symbol
	strs     *stringScan
	libc     string // "glibc", "musl" or "" when unknown
	findings []Finding
}

func (c *check) add(kind, format string, args ...any) {
	c.findings = append(c.findings, Finding{Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

func (c *check) static() bool {
	return c.info.Linking == elfinfo.Static || c.info.Linking == elfinfo.StaticPIE
}

// libcName tells glibc from musl: by the loader for dynamic programs; for static ones by glibc's
// .note.ABI-tag (added by its crt1.o) or its tunables variable, and by musl's dlopen stub.
func (c *check) libcName() string {
	switch {
	case strings.Contains(c.info.Interp, "ld-musl"):
		return "musl"
	case strings.Contains(c.info.Interp, "ld-linux"), c.f.Section(".note.ABI-tag") != nil, c.strs.has("GLIBC_TUNABLES"):
		return "glibc"
	case c.strs.has(muslDlopenStub), c.static() && c.syms != nil && c.defined(c.syms, "__libc_start_main") && c.defined(c.syms, "__init_libc"):
		return "musl"
	}
	return ""
}

// defined reports whether syms defines a function named name.
func (c *check) defined(syms []elf.Symbol, names ...string) bool {
	return len(c.definedAt(syms, names...)) > 0
}

// definedAt returns the addresses of the functions with one of these names that syms defines.
func (c *check) definedAt(syms []elf.Symbol, names ...string) []uint64 {
	var out []uint64
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC && slices.Contains(names, s.Name) {
			out = append(out, s.Value)
		}
	}
	return out
}

// muslDlopenStub is the error of musl's static dlopen, linked in only when something calls it.
const muslDlopenStub = "Dynamic loading not supported"

func (c *check) dlopen() {
	for _, s := range c.dynsyms {
		if s.Section == elf.SHN_UNDEF && (s.Name == "dlopen" || s.Name == "dlmopen") {
			c.add(Dlopen, "%s is imported (found in .dynsym): the libraries it loads must exist on the target system", s.Name)
			return
		}
	}
	if !c.static() {
		return
	}
	var why string
	switch c.libc {
	case "musl":
		why = "musl's static dlopen always fails (\"" + muslDlopenStub + "\"), so plugins and optional libraries will not load"
	case "glibc":
		why = "a static glibc program can load only libraries built for the same glibc version, which other systems lack"
	default:
		why = "a static program cannot load shared libraries reliably"
	}
	if c.syms != nil {
		// Static glibc links dlopen into every program; only a call shows that the program uses it.
		addrs := c.definedAt(c.syms, "dlopen", "dlmopen")
		if len(addrs) == 0 {
			return
		}
		called, known, err := callsAny(c.f, addrs)
		switch {
		case err != nil || !known:
			c.add(Dlopen, "dlopen is linked in (found in .symtab; whether it is called was not checked): %s", why)
		case called:
			c.add(Dlopen, "dlopen is called (found in .symtab): %s", why)
		}
		return
	}
	// Stripped static glibc always holds dlopen's strings, so only musl's stub tells.
	if c.libc == "musl" && c.strs.has(muslDlopenStub) {
		c.add(Dlopen, "dlopen is linked in (no .symtab: guessed from musl's error string): %s", why)
	}
}

// nssFunctions are the glibc entry points that go through NSS (glibc manual, "System Databases
// and Name Service Switch"); in a static program they dlopen libnss_*.so.2 of the glibc version
// it was linked with (the linker warns: "Using 'getpwnam' in statically linked applications
// requires at runtime the shared libraries from the glibc version used for linking").
var nssFunctions = []string{
	"getpwnam", "getpwnam_r", "getpwuid", "getpwuid_r", "getpwent", "getpwent_r",
	"getgrnam", "getgrnam_r", "getgrgid", "getgrgid_r", "getgrent", "getgrent_r", "getgrouplist", "initgroups",
	"getspnam", "getspnam_r", "getspent",
	"getaddrinfo", "getnameinfo", "gethostbyname", "gethostbyname_r", "gethostbyname2", "gethostbyname2_r",
	"gethostbyaddr", "gethostbyaddr_r", "gethostent",
	"getservbyname", "getservbyname_r", "getservbyport", "getservbyport_r", "getservent",
	"getprotobyname", "getprotobyname_r", "getprotobynumber", "getprotobynumber_r", "getprotoent",
	"getnetbyname", "getnetbyaddr", "getnetgrent", "innetgr", "setnetgrent",
	"getrpcbyname", "getrpcbynumber", "getaliasbyname", "ether_ntohost", "ether_hostton",
}

const nssWhy = "static glibc loads the NSS modules (libnss_*.so.2) of the glibc version it was linked with at run time; on other systems these lookups fail or crash (link against musl, or dynamically)"

func (c *check) nss() {
	if c.libc != "glibc" || !c.static() {
		return
	}
	if c.syms == nil {
		if c.strs.has("/etc/nsswitch.conf") {
			c.add(NSS, "NSS code is linked in (no .symtab: guessed from the string \"/etc/nsswitch.conf\"): %s", nssWhy)
		}
		return
	}
	var found []string
	for _, s := range c.syms {
		if s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC && slices.Contains(nssFunctions, s.Name) && !slices.Contains(found, s.Name) {
			found = append(found, s.Name)
		}
	}
	if len(found) > 0 {
		sort.Strings(found)
		c.add(NSS, "%s (found in .symtab): %s", strings.Join(found, ", "), nssWhy)
	}
}

// stackAndTextrel reports an executable stack and text relocations.
func (c *check) stackAndTextrel() error {
	hasStack := false
	for _, p := range c.f.Progs {
		if p.Type != elf.PT_GNU_STACK {
			continue
		}
		hasStack = true
		if p.Flags&elf.PF_X != 0 {
			c.add(ExecStack, "PT_GNU_STACK asks for an executable stack: hardened kernels and SELinux refuse it or make every thread's stack executable (built with -z execstack, or an object without .note.GNU-stack)")
		}
	}
	if !hasStack && len(c.f.Progs) > 0 && (c.f.Type == elf.ET_EXEC || c.f.Type == elf.ET_DYN) {
		c.add(ExecStack, "no PT_GNU_STACK: the kernel may make the stack executable, depending on the architecture")
	}
	if c.f.Section(".dynamic") == nil && !slices.ContainsFunc(c.f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_DYNAMIC }) {
		return nil
	}
	textrel, err := c.f.DynValue(elf.DT_TEXTREL)
	if err != nil {
		return fmt.Errorf("reading the dynamic section: %w", err)
	}
	flags, err := c.f.DynValue(elf.DT_FLAGS)
	if err != nil {
		return fmt.Errorf("reading the dynamic section: %w", err)
	}
	if len(textrel) > 0 || slices.ContainsFunc(flags, func(v uint64) bool { return elf.DynFlag(v)&elf.DF_TEXTREL != 0 }) {
		c.add(TextRel, "relocations in read-only code (DT_TEXTREL): the loader must make code writable, which SELinux and PaX refuse (compile everything with -fPIC or -fPIE)")
	}
	return nil
}
