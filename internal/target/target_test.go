package target

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"x86_64-linux-musl", "x86_64-linux-musl"},
		{"amd64", "x86_64-linux-musl"},
		{"ARM64", "aarch64-linux-musl"},
		{"aarch64-linux-musl", "aarch64-linux-musl"},
		{"riscv64", "riscv64-linux-musl"},
		{"armhf", "arm-linux-musleabihf"},
		{"i686", "i386-linux-musl"},
		{"x86-linux-musl", "i386-linux-musl"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got.Name != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.in, got.Name, tt.want)
		}
	}
}

func TestParseUnknown(t *testing.T) {
	for _, in := range []string{"", "sparc", "x86_64-linux-gnu", "mips-linux-musl"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", in)
		}
	}
}

func TestForMachineRoundTrip(t *testing.T) {
	for _, tg := range All() {
		got, ok := ForMachine(tg.Machine)
		if !ok || got.Name != tg.Name {
			t.Errorf("ForMachine(%v) = %v, %v; want %s", tg.Machine, got.Name, ok, tg.Name)
		}
	}
}
