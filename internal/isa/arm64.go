package isa

import (
	"encoding/binary"
	"regexp"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"

	"github.com/portabin/portabin/internal/x86len"
)

// arm64asm knows the Armv8.0 instruction set only, so later extensions are recognised from their
// encodings (Arm ARM A-profile, chapter C4 "A64 Instruction Set Encoding"); the patterns
// below name the encoding classes they match.
var arm64Arch = &arch{
	name:   "aarch64",
	levels: []string{"armv8-a", "armv8.1-a", "armv8.2-a", "armv9.2-a"},
	// The oldest architecture version in which each extension is allowed: LSE and RDM arrive in
	// Armv8.1, FP16, DotProd, SVE, SHA3, SHA512, SM3/SM4 and RCpc are optional from Armv8.2,
	// SME from Armv9.2. CRC32, AES, SHA1, SHA2 and PMULL are optional already in Armv8.0.
	level: map[string]int{
		"lse": 1, "rdm": 1,
		"fp16": 2, "dotprod": 2, "sve": 2, "sha3": 2, "sha512": 2, "sm4": 2, "rcpc": 2, "rcpc2": 2,
		"sme": 3,
	},
	decoder:    func() (decodeFunc, func()) { return decodeARM64, func() {} },
	references: arm64References,
	refs: func() (refsFunc, func()) {
		refs := func(code []byte, pc uint64, _ *x86len.Sweep, _ int, worth func(uint64) bool, visit func(uint64, refKind)) {
			arm64Refs(code, pc, worth, visit)
		}
		return refs, func() {}
	},
	variant: func(name string) bool {
		return outlineAtomic.MatchString(name) || arm64Variant(name) || openSSLARMv8(name)
	},
	probe: "mrs-id", // reads of the ID_AA64* registers, which Linux emulates for user space
	quiet: map[string]bool{"mrs-id": true},
}

// outlineAtomic matches GCC's and compiler-rt's out-of-line atomics, which test at run time
// whether the CPU has LSE and use either CAS/LDADD/SWP or a load-exclusive loop.
var outlineAtomic = regexp.MustCompile(`^__aarch64_(cas|casp|swp|ldadd|ldclr|ldeor|ldset)(1|2|4|8|16)_(relax|acq|rel|acq_rel|sync)$`)

// openSSLARMv8 matches OpenSSL's code for the Armv8 cryptographic extension (aes_v8_cbc_encrypt,
// gcm_ghash_v8, sha256_block_armv8, armv8_aes_gcm_encrypt), chosen after OPENSSL_armcap_P
// says the CPU has it, often through a table of functions that the capability search cannot
// follow.
var openSSLARMv8 = plainTokens("v8", "armv8")

// arm64Variant matches glibc's CPU-specific string functions (e.g. __memcpy_sve, __memset_a64fx).
var arm64Variant = variantTokens("sve", "sve2", "a64fx", "thunderx", "thunderx2", "falkor", "emag", "kunpeng",
	"zva", "zva64", "mte", "oryon1", "asimd", "nosimd")

// pattern is one encoding class: word&mask == value.
type pattern struct {
	mask, value uint32
	feature     string
}

// arm64Patterns are checked before arm64asm, which does not know them.
var arm64Patterns = []pattern{
	// Compare and swap: CAS, CASA, CASL, CASAL and the B/H forms (Armv8.1 LSE).
	{0x3fa07c00, 0x08a07c00, "lse"},
	// CASP pairs.
	{0xbfa07c00, 0x08207c00, "lse"},
	// LDAPR: atomic memory operation class with o3=1, opc=100 (RCpc).
	{0x3f20fc00, 0x3820c000, "rcpc"},
	// Atomic memory operations LDADD, LDCLR, LDEOR, LDSET, LD{S,U}{MAX,MIN} (o3=0) and SWP (o3=1, opc=000).
	{0x3f208c00, 0x38200000, "lse"},
	{0x3f20fc00, 0x38208000, "lse"},
	// LDAPUR/STLUR: LDAPR/STLR with unscaled immediate (RCpc2).
	{0x3f200c00, 0x19000000, "rcpc2"},
	// SQRDMLAH/SQRDMLSH vector: "Advanced SIMD three same extra" with opcode 000x (RDM).
	{0xbf20f400, 0x2e008400, "rdm"},
	// SDOT/UDOT vector and by element (DotProd).
	{0x9fe0fc00, 0x0e809400, "dotprod"},
	{0x9fc0f400, 0x0f80e000, "dotprod"},
	// "Advanced SIMD three same (FP16)".
	{0x9f60c400, 0x0e400400, "fp16"},
	// "Advanced SIMD two-register miscellaneous (FP16)".
	{0x9f7e0c00, 0x0e780800, "fp16"},
}

func decodeARM64(code []byte, pc uint64, use func(string)) (int, bool) {
	if len(code) < 4 || pc%4 != 0 {
		return min(len(code), int(4-pc%4)), false
	}
	w := binary.LittleEndian.Uint32(code)
	if w == 0 { // UDF #0, the padding between functions
		return 4, true
	}
	for _, p := range arm64Patterns {
		if w&p.mask == p.value {
			use(p.feature)
			return 4, true
		}
	}
	switch {
	case (w>>25)&0xf == 0x2: // op1=0010: the SVE encoding space
		use("sve")
		return 4, true
	case w>>31 == 1 && (w>>25)&0xf == 0: // op0=1, op1=0000: the SME encoding space
		use("sme")
		return 4, true
	case w>>24 == 0xce: // cryptographic three- and four-register, SHA512, SM3, SM4
		use(cryptoCE(w))
		return 4, true
	}
	inst, err := arm64asm.Decode(code)
	if err != nil {
		// Scalar floating point on half precision (ftype=11) beyond conversions is FP16.
		if w&0x7f200000 == 0x1e200000 && (w>>22)&3 == 3 {
			use("fp16")
			return 4, true
		}
		return 4, false
	}
	name := inst.Op.String()
	switch {
	case strings.HasPrefix(name, "CRC32"):
		use("crc32")
	case strings.HasPrefix(name, "AES"):
		use("aes")
	case strings.HasPrefix(name, "SHA1"):
		use("sha1")
	case strings.HasPrefix(name, "SHA256"):
		use("sha2")
	case (inst.Op == arm64asm.PMULL || inst.Op == arm64asm.PMULL2) && (w>>22)&3 == 3:
		use("pmull")
	case w&0xfffff000 == 0xd5380000:
		// MRS from op0=3, op1=0, CRn=0: the ID registers that describe the CPU's features.
		use("mrs-id")
	}
	return 4, true
}

// cryptoCE sorts the 0xCE encodings (Armv8.2 optional crypto extensions).
func cryptoCE(w uint32) string {
	switch (w >> 21) & 7 {
	case 0, 1, 4: // EOR3, BCAX, XAR
		return "sha3"
	case 3: // SHA512H, SHA512H2, SHA512SU1, RAX1 (O=0) or SM3PARTW*, SM4EKEY (O=1)
		if (w>>14)&1 == 1 {
			return "sm4"
		}
		if (w>>10)&3 == 3 {
			return "sha3"
		}
		return "sha512"
	case 6: // SHA512SU0, SM4E
		if (w>>10)&3 == 0 {
			return "sha512"
		}
		return "sm4"
	}
	return "sm4" // SM3SS1, SM3TT*
}

// arm64References returns the addresses a resolver forms with ADRP+ADD or ADR.
func arm64References(code []byte, pc uint64) []uint64 {
	var out []uint64
	arm64Walk(code, pc, func(addr uint64, how refKind) {
		if how == formed {
			out = append(out, addr)
		}
	})
	return out
}

// arm64Refs calls visit with every address code forms, loads from, stores to or branches to;
// decoding costs too little to be worth filtering.
func arm64Refs(code []byte, pc uint64, _ func(uint64) bool, visit func(addr uint64, how refKind)) {
	arm64Walk(code, pc, visit)
}

// arm64Walk follows the addresses code forms with ADRP+ADD or ADR, loads from or stores to with
// ADRP and an unsigned offset, and branches to.
func arm64Walk(code []byte, pc uint64, visit func(addr uint64, how refKind)) {
	var page [32]uint64
	var known [32]bool
	for off := 0; off+4 <= len(code); off += 4 {
		w := binary.LittleEndian.Uint32(code[off:])
		at := pc + uint64(off)
		rd := w & 31
		switch {
		case w&0x9f000000 == 0x90000000: // ADRP
			imm := int64(((w>>5)&0x7ffff)<<2|(w>>29)&3) << 43 >> 31 // sign-extended, times 4096
			page[rd], known[rd] = uint64(int64(at&^0xfff)+imm), true
		case w&0x9f000000 == 0x10000000: // ADR
			imm := int64(((w>>5)&0x7ffff)<<2|(w>>29)&3) << 43 >> 43
			visit(uint64(int64(at)+imm), formed)
			known[rd] = false
		case w&0xff800000 == 0x91000000: // ADD (immediate), 64-bit
			rn := (w >> 5) & 31
			if known[rn] {
				imm := uint64((w >> 10) & 0xfff)
				if (w>>22)&1 == 1 {
					imm <<= 12
				}
				visit(page[rn]+imm, formed)
			}
			known[rd] = false
		case w&0x3b000000 == 0x39000000: // LDR/STR (unsigned offset), general registers and SIMD
			rn := (w >> 5) & 31
			if known[rn] {
				scale := w >> 30
				if (w>>26)&1 == 1 && (w>>23)&1 == 1 { // 128-bit SIMD register
					scale = 4
				}
				how := loaded
				if (w>>22)&3 == 0 { // opc 00: a store
					how = stored
				}
				visit(page[rn]+uint64((w>>10)&0xfff)<<scale, how)
			}
			if (w>>22)&3 != 0 && (w>>26)&1 == 0 { // a load writes Rt
				known[rd] = false
			}
		case w&0x7c000000 == 0x14000000: // B, BL
			visit(uint64(int64(at)+int64(int32(w<<6)>>4)), branched)
		case w&0xff000010 == 0x54000000, w&0x7e000000 == 0x34000000: // B.cond, CBZ, CBNZ
			visit(uint64(int64(at)+int64(int32(w<<8)>>11&^3)), branched)
		case w&0x7e000000 == 0x36000000: // TBZ, TBNZ
			visit(uint64(int64(at)+int64(int32(w<<13)>>16&^3)), branched)
		case !isStoreOrBranch(w):
			// Most other instructions write Rd: forget it rather than follow the data flow.
			known[rd] = false
		}
	}
}

// isStoreOrBranch reports instructions whose low five bits do not name a written register.
func isStoreOrBranch(w uint32) bool {
	switch {
	case w&0x7c000000 == 0x14000000, w&0xfe000000 == 0xd6000000, w&0x7e000000 == 0x34000000,
		w&0xff000010 == 0x54000000, w&0x7e000000 == 0x36000000: // B/BL, BR/RET, CBZ, B.cond, TBZ
		return true
	case w&0x0a000000 == 0x08000000 && (w>>22)&1 == 0: // most stores (L=0), whose Rt is read
		return true
	}
	return false
}
