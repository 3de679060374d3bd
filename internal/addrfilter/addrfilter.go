// Package addrfilter tells, without hashing into a map, that most addresses are not among a set:
// the analyses look tens of millions of addresses (calls, words of data, guessed operands) up
// in sets of a few or a few thousand (the functions that make system calls, the pointers to
// functions in data).
package addrfilter

// Filter has one bit in 65,536 for each address added; an address whose bit is set may be among
// them, one whose bit is clear is not. Its zero value is empty.
type Filter [1024]uint64

func bit(addr uint64) (word int, mask uint64) {
	h := addr * 0x9e3779b97f4a7c15 >> 48 // Fibonacci hashing: the top 16 bits of the product
	return int(h >> 6), 1 << (h & 63)
}

// Add adds addr.
func (f *Filter) Add(addr uint64) {
	w, m := bit(addr)
	f[w] |= m
}

// MayHave reports false only for an address that was not added.
func (f *Filter) MayHave(addr uint64) bool {
	w, m := bit(addr)
	return f[w]&m != 0
}
