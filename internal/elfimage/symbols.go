package elfimage

import (
	"debug/elf"
	"sync"
)

// The symbol tables of a file are read by most of check's analyses (system calls, CPU level,
// risks, C library, kernel, glibc floor, facts), and debug/elf parses them afresh on every call:
// ten parses of each table per file. Remember has them parsed once.

// symbolTables holds f's two tables once parsed.
type symbolTables struct {
	syms, dyn table
}

type table struct {
	once sync.Once
	list []elf.Symbol
	err  error
}

func (t *table) get(parse func() ([]elf.Symbol, error)) ([]elf.Symbol, error) {
	t.once.Do(func() { t.list, t.err = parse() })
	return t.list, t.err
}

var remembered sync.Map // *elf.File → *symbolTables

// Remember makes Symbols and DynamicSymbols parse f's tables at most once each, until forget is
// called. The slices they give are then shared by their callers, which must not change them.
func Remember(f *elf.File) (forget func()) {
	remembered.Store(f, &symbolTables{})
	return func() { remembered.Delete(f) }
}

// Symbols is f.Symbols(), parsed once while f is remembered.
func Symbols(f *elf.File) ([]elf.Symbol, error) {
	if t, ok := remembered.Load(f); ok {
		return t.(*symbolTables).syms.get(f.Symbols)
	}
	return f.Symbols()
}

// DynamicSymbols is f.DynamicSymbols(), parsed once while f is remembered.
func DynamicSymbols(f *elf.File) ([]elf.Symbol, error) {
	if t, ok := remembered.Load(f); ok {
		return t.(*symbolTables).dyn.get(f.DynamicSymbols)
	}
	return f.DynamicSymbols()
}
