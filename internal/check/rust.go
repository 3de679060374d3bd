package check

import (
	"regexp"
	"strings"

	"github.com/ianlancetaylor/demangle"
)

// legacyRust matches Rust's legacy mangling, which ends with the 16-digit hash "17h...E"; the v0
// mangling starts with "_R".
var legacyRust = regexp.MustCompile(`^_ZN.*17h[0-9a-f]{16}E$`)

// rustKey names a function of Rust's standard library in a way that holds across releases:
// its module path inside std moves (std::sys::unix::fs::try_statx in Rust 1.63,
// std::sys::fs::unix::try_statx in 1.95), its own name and type do not. A method gives
// "std Type::name", a function "std name"; "" for anything else, C++ names included.
func rustKey(symbol string) string {
	// std's names are a few hundred bytes; a longer one, from a hostile file, could make the
	// demangler recurse deeply or expand its back-references without end.
	if len(symbol) > maxRustSymbol || !strings.HasPrefix(symbol, "_R") && !legacyRust.MatchString(symbol) {
		return ""
	}
	name, err := demangle.ToString(symbol, demangle.NoParams, demangle.NoTemplateParams, demangle.MaxLength(12))
	if err != nil {
		return ""
	}
	return rustKeyOf(name)
}

const maxRustSymbol = 2048

// rustKeyOf is rustKey of a demangled name, as strace -k prints them.
func rustKeyOf(name string) string {
	name = strings.TrimSuffix(name, "::{{closure}}")
	if !strings.HasPrefix(name, "std::") && !strings.HasPrefix(name, "<std::") {
		return ""
	}
	if i := strings.LastIndex(name, ">::"); i >= 0 && strings.HasPrefix(name, "<") {
		// <std::...::Type>::method, or <std::...::Type as Trait>::method
		typ := name[1:i]
		if j := strings.Index(typ, " as "); j >= 0 {
			typ = typ[:j]
		}
		typ = typ[strings.LastIndex(typ, "::")+2:]
		return "std " + typ + "::" + name[i+3:]
	}
	return "std " + name[strings.LastIndex(name, "::")+2:]
}

// rustNames adds the Rust keys of a function's names to them, for the fallback tables.
func rustNames(names []string) []string {
	for _, n := range names {
		if k := rustKey(n); k != "" {
			names = append(names, k)
		}
	}
	return names
}
