package isa

import (
	"encoding/binary"
	"slices"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/portabin/portabin/internal/x86len"
	"github.com/portabin/portabin/internal/x86memo"
)

var x86Arch = &arch{
	name:   "x86_64",
	levels: []string{"x86-64-v1", "x86-64-v2", "x86-64-v3", "x86-64-v4"},
	level: map[string]int{
		"cx16": 1, "lahf-sahf": 1, "popcnt": 1, "sse3": 1, "sse4.1": 1, "sse4.2": 1, "ssse3": 1,
		"avx": 2, "avx2": 2, "bmi1": 2, "bmi2": 2, "f16c": 2, "fma": 2, "lzcnt": 2, "movbe": 2, "xsave": 2,
		"avx512f": 3, "avx512bw": 3, "avx512cd": 3, "avx512dq": 3, "avx512vl": 3,
		// Beyond the psABI levels, but each needs the level its encoding belongs to.
		"avxvnni": 2, "avxifma": 2, "avxvnniint8": 2, "avxvnniint16": 2,
		"avx512vnni": 3, "avx512vbmi": 3, "avx512vbmi2": 3, "avx512bitalg": 3, "avx512vpopcntdq": 3,
		"avx512ifma": 3, "avx512bf16": 3, "avx512fp16": 3, "avx512vp2intersect": 3, "avx512er": 3,
		"avx512pf": 3, "avx512-4fmaps": 3, "avx10": 3,
	},
	// x86asm spends about half a microsecond on each instruction, and most of a program's
	// instructions need no CPU extension: measured without decoding, they do not dominate the
	// analysis. TestPlainX86Length checks the lengths against x86asm on real code, and that
	// x86asm finds no feature in them.
	baseline: x86len.Baseline,
	decoder: func() (decodeFunc, func()) {
		memo := x86memo.Get()
		decode := func(code []byte, pc uint64, use func(string)) (int, bool) { return decodeX86(memo, code, pc, use) }
		return decode, func() { x86memo.Put(memo) }
	},
	references: x86References,
	refs: func() (refsFunc, func()) {
		memo := x86memo.Get()
		refs := func(code []byte, pc uint64, sw *x86len.Sweep, at int, worth func(uint64) bool, visit func(uint64, refKind)) {
			x86Refs(memo, code, pc, sw, at, worth, visit)
		}
		return refs, func() { x86memo.Put(memo) }
	},
	variant: variantTokens("sse2", "sse3", "ssse3", "sse4", "sse41", "sse42", "avx", "avx2", "avx512",
		"avx512f", "avx512bw", "avx512vl", "evex", "evex256", "evex512", "fma", "fma3", "fma4", "bmi2", "rtm",
		"erms", "xsave", "xsavec", "elision", "haswell", "skylake", "skx", "znver4",
		// The CPUs that simdutf and simdjson name their namespaces after, and Highway's AVX-512
		// targets (hwy::N_AVX3, N_AVX3_ZEN4, N_AVX3_SPR).
		"westmere", "icelake", "avx3",
		// OpenSSL's AES-NI, SSSE3 (vector-permutation and bit-sliced AES), SHA-extension and
		// carry-less multiplication (GHASH with PCLMULQDQ) code.
		"aesni", "vpaes", "bsaes", "shaext", "clmul"),
	probe:      "cpuid",
	probeBytes: []byte{0x0f, 0xa2},
	follow: func() (followFunc, func()) {
		memo := x86memo.Get()
		follow := func(code []byte, pc uint64, isCode func(uint64) bool) (bool, []uint64, []uint64) {
			return x86Follow(memo, code, pc, isCode)
		}
		return follow, func() { x86memo.Put(memo) }
	},
	quiet: map[string]bool{"cpuid": true, "xgetbv": true, "tzcnt": true, "undecoded-vex": true, "undecoded-evex": true},
}

// decodeX86 decodes one instruction in 64-bit mode.
func decodeX86(memo *x86memo.Memo, code []byte, pc uint64, use func(string)) (int, bool) {
	if n, ok := x86len.Baseline(code); ok {
		return n, true
	}
	if n := x86asmGap(code); n > 0 {
		if code[0] == 0xc4 || code[0] == 0xc5 {
			use("avx")
		}
		return n, true
	}
	inst, err := memo.Decode(code)
	if err != nil || inst.Len == 0 || inst.Op == 0 {
		return undecodedX86(code, use), false
	}
	switch {
	case inst.Prefix[0].IsEVEX():
		classifyEVEX(inst, use)
	case inst.Prefix[0].IsVEX():
		classifyVEX(inst, use)
	default:
		classifyLegacy(inst, use)
	}
	return inst.Len, true
}

// x86asmGap returns the length of instructions that x86asm v0.33.0 decodes wrongly, 0 for
// others: the CET instructions ENDBR64, RDSSP and INCSSP (F3 [REX] 0F 1E or 0F AE /5 with a
// register operand, all NOPs on CPUs without CET) come back as a lone REP prefix, and VZEROUPPER
// and VZEROALL (VEX 0F 77, which has no ModRM byte) one byte too long or not at all.
func x86asmGap(code []byte) int {
	if len(code) >= 4 && code[0] == 0xf3 {
		n := 1
		if code[n]&0xf0 == 0x40 { // REX
			n++
		}
		if len(code) >= n+3 && code[n] == 0x0f && code[n+2]>>6 == 3 &&
			(code[n+1] == 0x1e || code[n+1] == 0xae && (code[n+2]>>3)&7 == 5) {
			return n + 3
		}
	}
	switch {
	case len(code) >= 3 && code[0] == 0xc5 && code[2] == 0x77:
		return 3
	case len(code) >= 4 && code[0] == 0xc4 && code[1]&0x1f == 1 && code[3] == 0x77:
		return 4
	}
	return 0
}

// undecodedX86 still recognises the VEX and EVEX prefixes of instructions that x86asm does
// not know: a well-formed prefix at an instruction start is AVX (VEX) or AVX-512 (EVEX) code
// whatever the opcode. It returns how many bytes to skip.
func undecodedX86(code []byte, use func(string)) int {
	if len(code) < 4 {
		return 1
	}
	switch code[0] {
	case 0xc5:
		use("avx")
		use("undecoded-vex")
	case 0xc4:
		if m := code[1] & 0x1f; m >= 1 && m <= 3 {
			use("avx")
			use("undecoded-vex")
		}
	case 0x62:
		// P0 bits 3:2 are zero and P1 bit 2 is one in every AVX-512 instruction.
		if len(code) >= 6 && code[1]&0x0c == 0 && code[2]&0x04 != 0 {
			use("avx512f")
			use("undecoded-evex")
		}
	}
	return 1
}

// legacyFeature maps instructions without a VEX or EVEX prefix to their extension.
var legacyFeature = map[x86asm.Op]string{}

func init() {
	for feature, ops := range map[string][]x86asm.Op{
		"sse3": {x86asm.ADDSUBPD, x86asm.ADDSUBPS, x86asm.HADDPD, x86asm.HADDPS, x86asm.HSUBPD, x86asm.HSUBPS,
			x86asm.LDDQU, x86asm.MOVDDUP, x86asm.MOVSHDUP, x86asm.MOVSLDUP, x86asm.FISTTP, x86asm.MONITOR, x86asm.MWAIT},
		"ssse3": {x86asm.PABSB, x86asm.PABSD, x86asm.PABSW, x86asm.PALIGNR, x86asm.PHADDD, x86asm.PHADDSW,
			x86asm.PHADDW, x86asm.PHSUBD, x86asm.PHSUBSW, x86asm.PHSUBW, x86asm.PMADDUBSW, x86asm.PMULHRSW,
			x86asm.PSHUFB, x86asm.PSIGNB, x86asm.PSIGND, x86asm.PSIGNW},
		"sse4.1": {x86asm.BLENDPD, x86asm.BLENDPS, x86asm.BLENDVPD, x86asm.BLENDVPS, x86asm.DPPD, x86asm.DPPS,
			x86asm.EXTRACTPS, x86asm.INSERTPS, x86asm.MOVNTDQA, x86asm.MPSADBW, x86asm.PACKUSDW, x86asm.PBLENDVB,
			x86asm.PBLENDW, x86asm.PCMPEQQ, x86asm.PEXTRB, x86asm.PEXTRD, x86asm.PEXTRQ, x86asm.PHMINPOSUW,
			x86asm.PINSRB, x86asm.PINSRD, x86asm.PINSRQ, x86asm.PMAXSB, x86asm.PMAXSD, x86asm.PMAXUD,
			x86asm.PMAXUW, x86asm.PMINSB, x86asm.PMINSD, x86asm.PMINUD, x86asm.PMINUW, x86asm.PMOVSXBD,
			x86asm.PMOVSXBQ, x86asm.PMOVSXBW, x86asm.PMOVSXDQ, x86asm.PMOVSXWD, x86asm.PMOVSXWQ,
			x86asm.PMOVZXBD, x86asm.PMOVZXBQ, x86asm.PMOVZXBW, x86asm.PMOVZXDQ, x86asm.PMOVZXWD,
			x86asm.PMOVZXWQ, x86asm.PMULDQ, x86asm.PMULLD, x86asm.PTEST, x86asm.ROUNDPD, x86asm.ROUNDPS,
			x86asm.ROUNDSD, x86asm.ROUNDSS},
		"sse4.2": {x86asm.CRC32, x86asm.PCMPESTRI, x86asm.PCMPESTRM, x86asm.PCMPISTRI, x86asm.PCMPISTRM,
			x86asm.PCMPGTQ},
		"popcnt":    {x86asm.POPCNT},
		"cx16":      {x86asm.CMPXCHG16B},
		"lahf-sahf": {x86asm.LAHF, x86asm.SAHF},
		"lzcnt":     {x86asm.LZCNT},
		"movbe":     {x86asm.MOVBE},
		"xsave": {x86asm.XSAVE, x86asm.XSAVE64, x86asm.XRSTOR, x86asm.XRSTOR64, x86asm.XSAVEOPT,
			x86asm.XSAVEOPT64, x86asm.XSAVEC, x86asm.XSAVEC64, x86asm.XSAVES, x86asm.XSAVES64,
			x86asm.XRSTORS, x86asm.XRSTORS64},
		// TZCNT is F3 0F BC, which CPUs without BMI1 run as BSF: compilers emit it for generic
		// targets on purpose, so it needs nothing (LZCNT, run as BSR, gives other results).
		"tzcnt":     {x86asm.TZCNT},
		"aes":       {x86asm.AESDEC, x86asm.AESDECLAST, x86asm.AESENC, x86asm.AESENCLAST, x86asm.AESIMC, x86asm.AESKEYGENASSIST},
		"pclmulqdq": {x86asm.PCLMULQDQ},
		"sha": {x86asm.SHA1MSG1, x86asm.SHA1MSG2, x86asm.SHA1NEXTE, x86asm.SHA1RNDS4, x86asm.SHA256MSG1,
			x86asm.SHA256MSG2, x86asm.SHA256RNDS2},
		"rdrand":   {x86asm.RDRAND},
		"rdtscp":   {x86asm.RDTSCP},
		"rtm":      {x86asm.XBEGIN, x86asm.XEND, x86asm.XABORT, x86asm.XTEST},
		"fsgsbase": {x86asm.RDFSBASE, x86asm.RDGSBASE, x86asm.WRFSBASE, x86asm.WRGSBASE},
		"cpuid":    {x86asm.CPUID},
		"xgetbv":   {x86asm.XGETBV},
	} {
		for _, op := range ops {
			legacyFeature[op] = feature
		}
	}
}

func classifyLegacy(inst x86asm.Inst, use func(string)) {
	if f := legacyFeature[inst.Op]; f != "" {
		use(f)
		return
	}
	// PEXTRW has an SSE2 form (0F C5) and an SSE4.1 form (0F 3A 15) that can store to memory.
	if inst.Op == x86asm.PEXTRW && inst.Opcode>>16 == 0x0f3a {
		use("sse4.1")
	}
}

// vexOnly maps VEX-encoded instructions that are not plain AVX to their extension.
var vexOnly = map[x86asm.Op]string{
	x86asm.ANDN: "bmi1", x86asm.BEXTR: "bmi1", x86asm.BLSI: "bmi1", x86asm.BLSMSK: "bmi1", x86asm.BLSR: "bmi1",
	x86asm.BZHI: "bmi2", x86asm.MULX: "bmi2", x86asm.PDEP: "bmi2", x86asm.PEXT: "bmi2", x86asm.RORX: "bmi2",
	x86asm.SARX: "bmi2", x86asm.SHLX: "bmi2", x86asm.SHRX: "bmi2",
	x86asm.VCVTPH2PS: "f16c", x86asm.VCVTPS2PH: "f16c",
	x86asm.VPDPBUSD: "avxvnni", x86asm.VPDPBUSDS: "avxvnni", x86asm.VPDPWSSD: "avxvnni", x86asm.VPDPWSSDS: "avxvnni",
	x86asm.VPDPBSSD: "avxvnniint8", x86asm.VPDPBSSDS: "avxvnniint8", x86asm.VPDPBSUD: "avxvnniint8",
	x86asm.VPDPBSUDS: "avxvnniint8", x86asm.VPDPBUUD: "avxvnniint8", x86asm.VPDPBUUDS: "avxvnniint8",
	x86asm.VPDPWSUD: "avxvnniint16", x86asm.VPDPWSUDS: "avxvnniint16", x86asm.VPDPWUSD: "avxvnniint16",
	x86asm.VPDPWUSDS: "avxvnniint16", x86asm.VPDPWUUD: "avxvnniint16", x86asm.VPDPWUUDS: "avxvnniint16",
	x86asm.VPMADD52HUQ: "avxifma", x86asm.VPMADD52LUQ: "avxifma",
}

// avx2Ops are AVX2 whatever their vector length.
var avx2Ops = map[x86asm.Op]bool{
	x86asm.VPBROADCASTB: true, x86asm.VPBROADCASTW: true, x86asm.VPBROADCASTD: true, x86asm.VPBROADCASTQ: true,
	x86asm.VBROADCASTI128: true, x86asm.VPERM2I128: true, x86asm.VINSERTI128: true, x86asm.VEXTRACTI128: true,
	x86asm.VPERMD: true, x86asm.VPERMQ: true, x86asm.VPERMPS: true, x86asm.VPERMPD: true, x86asm.VPBLENDD: true,
	x86asm.VPMASKMOVD: true, x86asm.VPMASKMOVQ: true, x86asm.VPSLLVD: true, x86asm.VPSLLVQ: true,
	x86asm.VPSRLVD: true, x86asm.VPSRLVQ: true, x86asm.VPSRAVD: true, x86asm.VGATHERDPD: true,
	x86asm.VGATHERDPS: true, x86asm.VGATHERQPD: true, x86asm.VGATHERQPS: true, x86asm.VPGATHERDD: true,
	x86asm.VPGATHERDQ: true, x86asm.VPGATHERQD: true, x86asm.VPGATHERQQ: true,
}

// avxFloatVP are VP-named instructions whose 256-bit forms are AVX, not AVX2.
var avxFloatVP = map[x86asm.Op]bool{
	x86asm.VPERMILPD: true, x86asm.VPERMILPS: true, x86asm.VPERM2F128: true, x86asm.VPTEST: true,
	x86asm.VPCLMULQDQ: true,
}

func classifyVEX(inst x86asm.Inst, use func(string)) {
	if f := vexOnly[inst.Op]; f != "" {
		use(f)
		return
	}
	name := inst.Op.String()
	if strings.HasPrefix(name, "K") { // opmask instructions are VEX-encoded AVX-512
		use(maskFeature(name))
		return
	}
	width := vectorWidth(inst)
	switch {
	case strings.HasPrefix(name, "VFMADD"), strings.HasPrefix(name, "VFMSUB"),
		strings.HasPrefix(name, "VFNMADD"), strings.HasPrefix(name, "VFNMSUB"):
		use("fma")
		return
	case strings.HasPrefix(name, "VAES"):
		use("aes")
		if width == 256 {
			use("vaes")
		}
	case inst.Op == x86asm.VPCLMULQDQ:
		use("pclmulqdq")
		if width == 256 {
			use("vpclmulqdq")
		}
	case strings.HasPrefix(name, "VGF2P8"):
		use("gfni")
	case strings.HasPrefix(name, "VSHA512"):
		use("sha512")
	case strings.HasPrefix(name, "VSM3"):
		use("sm3")
	case strings.HasPrefix(name, "VSM4"):
		use("sm4")
	}
	integer := strings.HasPrefix(name, "VP") && !avxFloatVP[inst.Op] ||
		inst.Op == x86asm.VMPSADBW || inst.Op == x86asm.VMOVNTDQA
	if avx2Ops[inst.Op] || integer && width == 256 ||
		(inst.Op == x86asm.VBROADCASTSS || inst.Op == x86asm.VBROADCASTSD) && registerSource(inst) {
		use("avx2")
		return
	}
	use("avx")
}

// maskFeature sorts the opmask instructions: the W forms are AVX512F (but KADDW and KTESTW are
// DQ), B forms DQ, D and Q forms BW.
func maskFeature(name string) string {
	switch {
	case name == "KADDW" || name == "KTESTW" || strings.HasSuffix(name, "B") && name != "KUNPCKBW":
		return "avx512dq"
	case strings.HasSuffix(name, "D") || strings.HasSuffix(name, "Q") || name == "KUNPCKWD":
		return "avx512bw"
	}
	return "avx512f"
}

// evexExtra maps EVEX instructions beyond AVX512F to their extension; avx512bw instructions
// are found by name (bwEVEX).
var evexExtra = map[string]string{}

func init() {
	for feature, names := range map[string][]string{
		"avx512cd": {"VPCONFLICTD", "VPCONFLICTQ", "VPLZCNTD", "VPLZCNTQ", "VPBROADCASTMB2Q", "VPBROADCASTMW2D"},
		"avx512dq": {"VPMULLQ", "VCVTPD2QQ", "VCVTPD2UQQ", "VCVTPS2QQ", "VCVTPS2UQQ", "VCVTTPD2QQ",
			"VCVTTPD2UQQ", "VCVTTPS2QQ", "VCVTTPS2UQQ", "VCVTQQ2PD", "VCVTQQ2PS", "VCVTUQQ2PD", "VCVTUQQ2PS",
			"VFPCLASSPD", "VFPCLASSPS", "VFPCLASSSD", "VFPCLASSSS", "VRANGEPD", "VRANGEPS", "VRANGESD",
			"VRANGESS", "VREDUCEPD", "VREDUCEPS", "VREDUCESD", "VREDUCESS", "VEXTRACTF64X2", "VEXTRACTI64X2",
			"VEXTRACTF32X8", "VEXTRACTI32X8", "VINSERTF64X2", "VINSERTI64X2", "VINSERTF32X8", "VINSERTI32X8",
			"VBROADCASTF32X2", "VBROADCASTI32X2", "VBROADCASTF32X8", "VBROADCASTI32X8", "VBROADCASTF64X2",
			"VBROADCASTI64X2", "VPMOVM2D", "VPMOVM2Q", "VPMOVD2M", "VPMOVQ2M", "VANDPD", "VANDPS", "VANDNPD",
			"VANDNPS", "VORPD", "VORPS", "VXORPD", "VXORPS"},
		"avx512vnni":         {"VPDPBUSD", "VPDPBUSDS", "VPDPWSSD", "VPDPWSSDS"},
		"avx512vbmi":         {"VPERMB", "VPERMI2B", "VPERMT2B", "VPMULTISHIFTQB"},
		"avx512vbmi2":        {"VPCOMPRESSB", "VPCOMPRESSW", "VPEXPANDB", "VPEXPANDW", "VPSHLDW", "VPSHLDD", "VPSHLDQ", "VPSHLDVW", "VPSHLDVD", "VPSHLDVQ", "VPSHRDW", "VPSHRDD", "VPSHRDQ", "VPSHRDVW", "VPSHRDVD", "VPSHRDVQ"},
		"avx512bitalg":       {"VPOPCNTB", "VPOPCNTW", "VPSHUFBITQMB"},
		"avx512vpopcntdq":    {"VPOPCNTD", "VPOPCNTQ"},
		"avx512ifma":         {"VPMADD52HUQ", "VPMADD52LUQ"},
		"avx512vp2intersect": {"VP2INTERSECTD", "VP2INTERSECTQ"},
		"avx512er":           {"VEXP2PD", "VEXP2PS", "VRCP28PD", "VRCP28PS", "VRCP28SD", "VRCP28SS", "VRSQRT28PD", "VRSQRT28PS", "VRSQRT28SD", "VRSQRT28SS"},
		"avx512-4fmaps":      {"V4FMADDPS", "V4FMADDSS", "V4FNMADDPS", "V4FNMADDSS", "VP4DPWSSD", "VP4DPWSSDS"},
		"gfni":               {"VGF2P8AFFINEINVQB", "VGF2P8AFFINEQB", "VGF2P8MULB"},
		"vaes":               {"VAESDEC", "VAESDECLAST", "VAESENC", "VAESENCLAST"},
		"vpclmulqdq":         {"VPCLMULQDQ"},
	} {
		for _, n := range names {
			evexExtra[n] = feature
		}
	}
}

// bwEVEX are byte and word instructions that do not end in B or W.
var bwEVEX = map[string]bool{
	"VDBPSADBW": true, "VPALIGNR": true, "VPSLLDQ": true, "VPSRLDQ": true, "VPMADDUBSW": true,
	"VPMADDWD": true, "VPMULHRSW": true, "VPACKSSDW": true, "VPACKUSDW": true, "VPUNPCKHWD": true,
	"VPUNPCKLWD": true, "VPSHUFHW": true, "VPSHUFLW": true, "VMOVDQU8": true, "VMOVDQU16": true,
	"VPMOVB2M": true, "VPMOVW2M": true,
}

func classifyEVEX(inst x86asm.Inst, use func(string)) {
	name := inst.Op.String()
	use("avx512f")
	switch f := evexExtra[name]; {
	case f != "":
		use(f)
	case inst.Op == x86asm.VCVTPH2PS || inst.Op == x86asm.VCVTPS2PH:
	case strings.Contains(name, "BF16") || strings.HasSuffix(name, "BF16PS"):
		use("avx512bf16")
	case strings.HasSuffix(name, "PH") || strings.HasSuffix(name, "SH") || strings.Contains(name, "PH2") ||
		strings.Contains(name, "2PH") || strings.Contains(name, "SH2") || strings.Contains(name, "2SH") || name == "VMOVW":
		use("avx512fp16")
	case bwEVEX[name] || strings.HasPrefix(name, "VP") && (strings.HasSuffix(name, "B") || strings.HasSuffix(name, "W")) &&
		!downConvert(name):
		use("avx512bw")
	}
	if w := vectorWidth(inst); w != 0 && w < 512 && !scalar(name) {
		use("avx512vl")
	}
}

// downConvert reports VPMOV[S|US]{D,Q}{B,W}, AVX512F instructions whose names end in B or W.
func downConvert(name string) bool {
	rest, ok := strings.CutPrefix(name, "VPMOV")
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(strings.TrimPrefix(rest, "US"), "S")
	return len(rest) == 2 && (rest[0] == 'D' || rest[0] == 'Q')
}

// scalar reports instructions that ignore the vector length, so 128-bit registers do not make them AVX512VL.
func scalar(name string) bool {
	for _, s := range []string{"SS", "SD", "SH", "SI"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	for _, p := range []string{"VMOVD", "VMOVQ", "VMOVW", "VPINSR", "VPEXTR", "VCOMIS", "VUCOMIS", "VCVTSI", "VCVTUSI", "VCVTS", "VCVTTS", "VEXTRACTPS", "VINSERTPS"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// vectorWidth is the widest vector register the instruction names: 128, 256, 512, or 0.
func vectorWidth(inst x86asm.Inst) int {
	width := 0
	for _, a := range inst.Args {
		r, ok := a.(x86asm.Reg)
		if !ok {
			continue
		}
		switch {
		case r >= x86asm.Z0 && r <= x86asm.Z31:
			return 512
		case r >= x86asm.Y0 && r <= x86asm.Y31:
			width = 256
		case r >= x86asm.X0 && r <= x86asm.X31 && width == 0:
			width = 128
		}
	}
	return width
}

// registerSource reports whether the last argument is a register (VBROADCASTSS xmm is AVX2,
// the memory form AVX).
func registerSource(inst x86asm.Inst) bool {
	last := x86asm.Arg(nil)
	for _, a := range inst.Args {
		if a != nil {
			last = a
		}
	}
	_, ok := last.(x86asm.Reg)
	return ok
}

// x86References returns the addresses that code loads with LEA or MOV of an immediate, which
// is how resolvers return their choice (RIP-relative in PIC code, absolute otherwise).
func x86References(code []byte, pc uint64) []uint64 {
	var out []uint64
	for off := 0; off < len(code); {
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil || inst.Len == 0 {
			off++
			continue
		}
		next := pc + uint64(off+inst.Len)
		if inst.Op == x86asm.LEA || inst.Op == x86asm.MOV {
			for _, a := range inst.Args {
				switch a := a.(type) {
				case x86asm.Mem:
					if a.Base == x86asm.RIP && inst.Op == x86asm.LEA {
						out = append(out, next+uint64(a.Disp))
					}
				case x86asm.Imm:
					out = append(out, uint64(a))
				}
			}
		}
		off += inst.Len
	}
	return out
}

// x86Refs calls visit with the branch targets, RIP-relative addresses and immediates of the
// instructions in code that worth accepts (the rest are only measured). Baseline branches are
// read directly; other baseline instructions go to the decoder only when a RIP-relative
// displacement or an immediate they might hold is worth it, and the rest always do.
func x86Refs(memo *x86memo.Memo, code []byte, pc uint64, sw *x86len.Sweep, at int, worth func(uint64) bool, visit func(addr uint64, how refKind)) {
	swept := sw != nil && sw.Started(at)
	for off := 0; off < len(code); {
		here := pc + uint64(off)
		var n int
		var plain bool
		if swept {
			// The section's sweep started here too, and measured the same instructions.
			n, plain = sw.NextStart(at+off)-(at+off), sw.Measured(at+off)
			if off+n > len(code) {
				swept = false // an instruction across the end: measure it, as below
			}
		}
		if !swept {
			n, plain = x86len.Baseline(code[off:])
		}
		if plain || swept && !relative(code[off:off+n]) {
			inst := code[off : off+n]
			if target, ok := plainBranch(inst, here); ok {
				if worth(target) {
					visit(target, branched)
				}
				off += n
				continue
			}
			if !mayReference(inst, here, worth) {
				off += n
				continue
			}
		}
		inst, err := memo.Decode(code[off:])
		if err != nil || inst.Len == 0 {
			off += max(n, 1)
			continue
		}
		if swept && inst.Len != n {
			swept = false // the sweep read these bytes otherwise: measure from here on
		}
		next := here + uint64(inst.Len)
		for i, arg := range inst.Args {
			switch arg := arg.(type) {
			case x86asm.Rel:
				visit(next+uint64(int64(arg)), branched)
			case x86asm.Mem:
				if arg.Base == x86asm.RIP {
					how := loaded
					switch {
					case inst.Op == x86asm.LEA:
						how = formed
					case inst.Op == x86asm.MOV && i == 0:
						how = stored
					}
					visit(next+uint64(arg.Disp), how)
				}
			case x86asm.Imm:
				visit(uint64(arg), formed)
			}
		}
		off += inst.Len
	}
}

// relative reports whether inst may branch to an address it holds relative to its end (jcc,
// jmp, call, loop, jrcxz, xbegin), after any prefixes; the only other addresses an instruction
// holds are RIP-relative operands and immediates, which mayReference finds.
func relative(inst []byte) bool {
	p := 0
	for p < len(inst) && (isLegacyPrefix[inst[p]] || inst[p]&0xf0 == 0x40) {
		p++
	}
	if p >= len(inst) {
		return true // nothing but prefixes: let the decoder say
	}
	switch op := inst[p]; {
	case op >= 0x70 && op <= 0x7f, op >= 0xe0 && op <= 0xe3, op == 0xe8, op == 0xe9, op == 0xeb:
		return true
	case op == 0x0f:
		return p+1 >= len(inst) || inst[p+1]&0xf0 == 0x80
	case op == 0xc7:
		return p+1 >= len(inst) || inst[p+1] == 0xf8
	}
	return false
}

var isLegacyPrefix = [256]bool{0xf0: true, 0xf2: true, 0xf3: true, 0x2e: true, 0x36: true, 0x3e: true,
	0x26: true, 0x64: true, 0x65: true, 0x66: true, 0x67: true}

// opcodeAt skips the prefixes and REX byte that baseline instructions may have.
func opcodeAt(inst []byte) int {
	p, _ := x86len.Prefixes(inst)
	if p < len(inst) && inst[p]&0xf0 == 0x40 {
		p++
	}
	return p
}

// plainBranch returns the target of a baseline call, jump or conditional jump.
func plainBranch(inst []byte, pc uint64) (uint64, bool) {
	p, n := opcodeAt(inst), len(inst)
	if p >= n {
		return 0, false
	}
	next := int64(pc) + int64(n)
	switch op := inst[p]; {
	case (op == 0xe8 || op == 0xe9) && n == p+5:
		return uint64(next + int64(int32(binary.LittleEndian.Uint32(inst[p+1:])))), true
	case (op == 0xeb || op >= 0x70 && op <= 0x7f) && n == p+2:
		return uint64(next + int64(int8(inst[p+1]))), true
	case op == 0x0f && n == p+6 && inst[p+1] >= 0x80 && inst[p+1] <= 0x8f:
		return uint64(next + int64(int32(binary.LittleEndian.Uint32(inst[p+2:])))), true
	}
	return 0, false
}

// mayReference reports whether a baseline instruction may hold an address that worth accepts:
// the target of a RIP-relative displacement after any byte that could be its ModRM (mod 00,
// r/m 101), or a trailing 32- or 64-bit immediate (mov, push or cmp of an address in code that
// is not position-independent). Guesses that are wrong only cost a decoding.
func mayReference(inst []byte, pc uint64, worth func(uint64) bool) bool {
	p, n := opcodeAt(inst), len(inst)
	next := pc + uint64(n)
	for q := p + 1; q+5 <= n; q++ {
		if inst[q]&0xc7 == 0x05 && worth(next+uint64(int64(int32(binary.LittleEndian.Uint32(inst[q+1:]))))) {
			return true
		}
	}
	if n-p >= 5 && worth(uint64(binary.LittleEndian.Uint32(inst[n-4:]))) {
		return true
	}
	return n-p >= 9 && worth(binary.LittleEndian.Uint64(inst[n-8:]))
}

// x86Follow reads a function that may ask the CPU for its features (CPUID, XGETBV), following
// the addresses of functions through its registers in the order of its instructions (a branch
// does not reset them). probes says whether it asks at all; cells are the RIP-relative
// addresses it stores anything else to, and installs the functions whose addresses it stores
// to memory other than its own stack. A function passed in a register (to atexit, qsort) is
// not installed.
func x86Follow(memo *x86memo.Memo, code []byte, pc uint64, isCode func(uint64) bool) (probes bool, cells, installs []uint64) {
	const maxAddrs = 4 // function addresses followed in one register
	var addrs [16][]uint64
	set := func(r int, fns []uint64) {
		if r >= 0 {
			addrs[r] = fns[:min(len(fns), maxAddrs)]
		}
	}
	for off := 0; off < len(code); {
		inst, err := memo.Decode(code[off:])
		if err != nil || inst.Len == 0 {
			off++
			continue
		}
		next := pc + uint64(off+inst.Len)
		off += inst.Len
		dst, src := inst.Args[0], inst.Args[1]
		var fns []uint64 // the function addresses the instruction writes to dst
		switch {
		case inst.Op == x86asm.CPUID || inst.Op == x86asm.XGETBV:
			probes = true
			set(0, nil) // rax, rcx, rdx, rbx: the answer
			set(1, nil)
			set(2, nil)
			set(3, nil)
			continue
		case inst.Op == x86asm.CALL:
			for _, r := range []int{0, 1, 2, 6, 7, 8, 9, 10, 11} { // the caller-saved registers
				set(r, nil)
			}
			continue
		case inst.Op == x86asm.LEA:
			if m, ok := src.(x86asm.Mem); ok && m.Base == x86asm.RIP && isCode(next+uint64(m.Disp)) {
				fns = []uint64{next + uint64(m.Disp)}
			}
		case inst.Op == x86asm.MOV:
			if imm, ok := src.(x86asm.Imm); ok && isCode(uint64(imm)) {
				fns = []uint64{uint64(imm)} // an address in code that is not position-independent
			} else if r := gpr(src); r >= 0 {
				fns = addrs[r]
			}
		case isCMOV(inst.Op):
			if r, d := gpr(src), gpr(dst); r >= 0 && d >= 0 {
				fns = append(slices.Clone(addrs[d]), addrs[r]...)
			}
		}
		if !writesFirst(inst.Op) {
			continue
		}
		switch d := dst.(type) {
		case x86asm.Reg:
			set(gpr(d), fns)
		case x86asm.Mem:
			switch {
			case len(fns) > 0 && !onStack(d):
				installs = append(installs, fns...)
			case len(fns) == 0 && d.Base == x86asm.RIP:
				cells = append(cells, next+uint64(d.Disp))
			}
		}
	}
	return probes, cells, installs
}

// gpr numbers a general register of any width as the 64-bit one it is part of (rax 0, rcx 1,
// ... r15 15), or -1.
func gpr(a x86asm.Arg) int {
	r, ok := a.(x86asm.Reg)
	switch {
	case !ok:
		return -1
	case r >= x86asm.RAX && r <= x86asm.R15:
		return int(r - x86asm.RAX)
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return int(r - x86asm.EAX)
	case r >= x86asm.AX && r <= x86asm.R15W:
		return int(r - x86asm.AX)
	case r >= x86asm.AL && r <= x86asm.BL:
		return int(r - x86asm.AL)
	case r >= x86asm.AH && r <= x86asm.BH:
		return int(r - x86asm.AH) // the high bytes of rax, rcx, rdx, rbx
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return int(r-x86asm.SPB) + 4
	}
	return -1
}

// onStack reports whether memory is addressed from the stack or frame pointer.
func onStack(m x86asm.Mem) bool {
	return gpr(m.Base) == 4 || gpr(m.Base) == 5
}

func isCMOV(op x86asm.Op) bool { return op >= x86asm.CMOVA && op <= x86asm.CMOVS }

// writesFirst reports whether an instruction writes its first operand.
func writesFirst(op x86asm.Op) bool {
	switch op {
	case x86asm.CMP, x86asm.TEST, x86asm.BT, x86asm.PUSH:
		return false
	}
	return true
}
