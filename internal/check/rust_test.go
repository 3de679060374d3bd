package check

import (
	"strings"
	"testing"
)

func TestRustKey(t *testing.T) {
	tests := []struct{ symbol, want string }{
		{"_RNvNtNtNtCsjrHSEGnQ3l9_3std3sys2fs4unix9try_statx", "std try_statx"},
		{"_ZN3std3sys4unix2fs9try_statx17h0123456789abcdefE", "std try_statx"},
		{"_RNvMNtNtNtNtCsjrHSEGnQ3l9_3std3sys7process4unix4unixNtNtB4_6common7Command5spawn", "std Command::spawn"},
		{"_RNvNvNtNtNtNtCsjrHSEGnQ3l9_3std3sys2io11kernel_copy5linux18copy_regular_files29probe_copy_file_range_support", "std probe_copy_file_range_support"},
		{"_ZNSt6thread15_M_start_threadESt10unique_ptrINS_6_StateESt14default_deleteIS1_EEPFvvE", ""}, // C++
		{"_ZN3foo3bar17h0123456789abcdefE", ""},                                                       // Rust, not std
		{"statx", ""},
		{"_R", ""},
		{"_RNv" + strings.Repeat("Nv", 5000) + "3std1x", ""}, // too long to demangle
	}
	for _, tt := range tests {
		if got := rustKey(tt.symbol); got != tt.want {
			t.Errorf("rustKey(%q) = %q, want %q", tt.symbol, got, tt.want)
		}
	}
}
