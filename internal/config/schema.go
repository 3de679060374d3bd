package config

import (
	"reflect"
	"runtime"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// file is portabin.toml as written: the schema the decoder checks keys and types against.
// Load turns it into Config. Keys are the command-line flags' names with _ for -.
type file struct {
	Build  fileBuild         `toml:"build"`
	Deps   map[string]string `toml:"deps"`
	Check  fileCheck         `toml:"check"`
	Matrix fileMatrix        `toml:"matrix"`
	Tests  []fileTest        `toml:"test"`
}

type fileBuild struct {
	Toolchain   string            `toml:"toolchain"`
	Targets     []string          `toml:"targets"`
	System      string            `toml:"system"`
	Args        []string          `toml:"args"`
	Env         map[string]string `toml:"env"`
	Executables []string          `toml:"executables"`
	Strip       bool              `toml:"strip"`
	PIE         bool              `toml:"pie"`
	Debug       bool              `toml:"debug"`
	Jobs        int               `toml:"jobs"`
	Image       string            `toml:"image"`
	Out         string            `toml:"out"`
	Sysroot     string            `toml:"sysroot"`
	Malloc      string            `toml:"malloc"`
}

type fileCheck struct {
	RequireKernel string `toml:"require_kernel"`
	RequireISA    string `toml:"require_isa"`
	AllowDynamic  bool   `toml:"allow_dynamic"`
}

type fileMatrix struct {
	Roots   []string `toml:"roots"`
	Kernels []string `toml:"kernels"`
	Runner  string   `toml:"runner"`
	Jobs    int      `toml:"jobs"`
	Network bool     `toml:"network"`
	Timeout string   `toml:"timeout"`
}

type fileTest struct {
	Name              string            `toml:"name"`
	Executable        string            `toml:"executable"`
	Args              []string          `toml:"args"`
	Stdin             string            `toml:"stdin"`
	ExpectStdout      string            `toml:"expect_stdout"`
	ExpectStdoutRegex string            `toml:"expect_stdout_regex"`
	ExpectExit        int               `toml:"expect_exit"`
	Timeout           string            `toml:"timeout"`
	Env               map[string]string `toml:"env"`
}

// defaults are the values of keys the file leaves out, the same as the flags' defaults.
// A [[test]]'s timeout defaults to the matrix's, after decoding.
func defaults() file {
	return file{
		Build:  fileBuild{Toolchain: "zig", System: "auto", Jobs: runtime.NumCPU(), Out: "dist"},
		Matrix: fileMatrix{Runner: "native", Jobs: runtime.NumCPU(), Timeout: "10s"},
	}
}

// schemaType is the Go type of the value at a key path ("test[2].env.HOME"), or nil when
// the schema has no such key.
func schemaType(path string) reflect.Type {
	t := reflect.TypeFor[file]()
	for _, part := range strings.Split(display(path), ".") {
		switch t.Kind() {
		case reflect.Slice:
			t = t.Elem()
		case reflect.Map:
			t = t.Elem()
			continue
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByKey(t, part)
		if !ok {
			return nil
		}
		t = f.Type
	}
	if strings.HasSuffix(path, "]") && t.Kind() == reflect.Slice {
		t = t.Elem() // the path names an element of the list
	}
	return t
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("toml") == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// schemaKeys lists every key portabin.toml accepts as a dotted path ("build.targets",
// "test.expect_exit"); a table of free names ([deps], env) counts as one key.
func schemaKeys() []string {
	var keys []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			key := join(prefix, f.Tag.Get("toml"))
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(key, ft)
				continue
			}
			keys = append(keys, key)
		}
	}
	walk("", reflect.TypeFor[file]())
	return keys
}

// describe says in words what a value of type t is written as.
func describe(t reflect.Type, path string) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Map:
		return "a table of strings"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "[[" + display(path) + "]] tables"
		}
		return "a list of strings"
	case reflect.Struct:
		return "a [" + display(path) + "] table"
	}
	return t.String()
}

// tomlKinds names the kinds of TOML values in an error message.
var tomlKinds = map[unstable.Kind]string{
	unstable.String: "a string", unstable.Bool: "a boolean", unstable.Float: "a float",
	unstable.Integer: "an integer", unstable.Array: "a list", unstable.InlineTable: "a table",
	unstable.Table: "a table", unstable.ArrayTable: "[[...]] tables", unstable.LocalDate: "a date",
	unstable.LocalTime: "a time", unstable.LocalDateTime: "a date and time", unstable.DateTime: "a date and time",
}
