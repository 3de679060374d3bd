package sysscan

// maxElems bounds how many alternatives one register may hold; more than
// that and the value is marked partly unknown.
const maxElems = 4

// kind says what an elem stands for.
type kind uint8

const (
	kConst    kind = iota + 1 // x is the constant
	kArg                      // x is a register: its value at function entry
	kStackArg                 // x is an offset from the entry stack pointer: the incoming stack argument there
	kSP                       // x is an offset from the entry stack pointer: a pointer into the frame
)

type elem struct {
	x    int64
	kind kind
}

// val is what one register may hold: a small set of alternatives, plus
// unk when some path leads to a value the analysis cannot name.
type val struct {
	e   [maxElems]elem
	n   uint8
	unk bool
}

func constVal(c int64) val {
	return val{e: [maxElems]elem{{x: c, kind: kConst}}, n: 1}
}

func elemVal(k kind, x int64) val {
	return val{e: [maxElems]elem{{x: x, kind: k}}, n: 1}
}

var unknownVal = val{unk: true}

func (v *val) add(e elem) {
	for i := uint8(0); i < v.n; i++ {
		if v.e[i] == e {
			return
		}
	}
	if int(v.n) == maxElems {
		v.unk = true
		return
	}
	v.e[v.n] = e
	v.n++
}

func join(a, b val) val {
	for i := uint8(0); i < b.n; i++ {
		a.add(b.e[i])
	}
	a.unk = a.unk || b.unk
	return a
}

// single returns the value's only alternative, if it has exactly one.
func (v val) single() (elem, bool) {
	if v.n == 1 && !v.unk {
		return v.e[0], true
	}
	return elem{}, false
}

func (v val) allConst() bool {
	if v.unk || v.n == 0 {
		return false
	}
	for i := uint8(0); i < v.n; i++ {
		if v.e[i].kind != kConst {
			return false
		}
	}
	return true
}

// mapConst applies f to every constant; other alternatives keep or lose
// their meaning as keep says.
func (v val) mapConst(f func(int64) int64, keep func(elem) (elem, bool)) val {
	var r val
	r.unk = v.unk
	for i := uint8(0); i < v.n; i++ {
		e := v.e[i]
		if e.kind == kConst {
			r.add(elem{x: f(e.x), kind: kConst})
			continue
		}
		if keep != nil {
			if ne, ok := keep(e); ok {
				r.add(ne)
				continue
			}
		}
		r.unk = true
	}
	return r
}

func truncate(c int64, width uint8) int64 {
	switch width {
	case 1:
		return int64(uint8(c))
	case 2:
		return int64(uint16(c))
	case 4:
		return int64(uint32(c))
	}
	return c
}

func signExtend(c int64, width uint8) int64 {
	switch width {
	case 1:
		return int64(int8(c))
	case 2:
		return int64(int16(c))
	case 4:
		return int64(int32(c))
	}
	return c
}

// narrow is what writing v to a register of width bytes leaves there.
// Entry values stay named: a syscall number passed as int or long is the
// same number.
func narrow(v val, width uint8) val {
	if width >= 8 {
		return v
	}
	return v.mapConst(func(c int64) int64 { return truncate(c, width) }, func(e elem) (elem, bool) {
		return e, e.kind == kArg || e.kind == kStackArg
	})
}

// extend is a sign or zero extension from width bytes.
func extend(v val, width uint8, signed bool) val {
	if width >= 8 {
		return v
	}
	return v.mapConst(func(c int64) int64 {
		if signed {
			return signExtend(c, width)
		}
		return truncate(c, width)
	}, func(e elem) (elem, bool) {
		return e, e.kind == kArg || e.kind == kStackArg
	})
}

// arithmetic operations the analysis folds.
const (
	aAdd uint8 = iota + 1
	aSub
	aAnd
	aOr
	aXor
	aShl
	aShr
	aSar
	aMul
)

func fold(op uint8, a, b int64) (int64, bool) {
	switch op {
	case aAdd:
		return a + b, true
	case aSub:
		return a - b, true
	case aAnd:
		return a & b, true
	case aOr:
		return a | b, true
	case aXor:
		return a ^ b, true
	case aShl:
		return a << (uint64(b) & 63), true
	case aShr:
		return int64(uint64(a) >> (uint64(b) & 63)), true
	case aSar:
		return a >> (uint64(b) & 63), true
	case aMul:
		return a * b, true
	}
	return 0, false
}

// arith computes a op b over all alternatives. Stack pointers survive
// adding and subtracting constants, so frames can be followed.
func arith(op uint8, a, b val, width uint8) val {
	var r val
	r.unk = a.unk || b.unk
	for i := uint8(0); i < a.n; i++ {
		for j := uint8(0); j < b.n; j++ {
			x, y := a.e[i], b.e[j]
			switch {
			case x.kind == kConst && y.kind == kConst:
				c, ok := fold(op, x.x, y.x)
				if !ok {
					r.unk = true
					continue
				}
				r.add(elem{x: truncate(c, width), kind: kConst})
			case x.kind == kSP && y.kind == kConst && width == 8 && (op == aAdd || op == aSub):
				c, _ := fold(op, x.x, y.x)
				r.add(elem{x: c, kind: kSP})
			case x.kind == kConst && y.kind == kSP && width == 8 && op == aAdd:
				r.add(elem{x: x.x + y.x, kind: kSP})
			default:
				r.unk = true
			}
		}
	}
	return r
}
