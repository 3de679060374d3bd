package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// pos is a place in the file: line and byte column, both from 1; the zero pos is unknown.
type pos struct{ line, col int }

func (p pos) known() bool { return p.line > 0 }

// located is where one key path sits in the document and what kind of TOML value it holds.
type located struct {
	key, value pos
	kind       unstable.Kind
}

// positions maps key paths ("build.targets[1]", "test[0].timeout") to where they are
// written. go-toml decodes into structs without saying where each value came from, so the
// checks that run after decoding find their line and column here.
type positions struct {
	byPath  map[string]located
	byValue map[pos]string
	byKey   map[pos]string
	data    []byte
}

// indexPositions walks the document's syntax tree. It ignores syntax errors: the decoder
// reports those with their own position.
func indexPositions(data []byte) *positions {
	ix := &positions{byPath: map[string]located{}, byValue: map[pos]string{}, byKey: map[pos]string{}, data: data}
	var p unstable.Parser
	p.Reset(data)
	arrayTables := map[string]int{} // path of an array of tables → elements so far
	table := ""
	for p.NextExpression() {
		expr := p.Expression()
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, first := keyParts(expr.Key())
			table = resolveTable(parts, arrayTables, expr.Kind == unstable.ArrayTable)
			at := ix.at(first.Raw.Offset)
			ix.add(table, located{key: at, value: at, kind: expr.Kind})
		case unstable.KeyValue:
			ix.keyValue(table, expr)
		}
	}
	return ix
}

// resolveTable turns a table header into a path, numbering arrays of tables: the second
// [[test]] is "test[1]", and a [test.env] after it belongs to "test[1]".
func resolveTable(parts []string, arrayTables map[string]int, isArray bool) string {
	path := ""
	for i, part := range parts {
		path = join(path, part)
		if isArray && i == len(parts)-1 {
			n := arrayTables[path]
			arrayTables[path] = n + 1
			return fmt.Sprintf("%s[%d]", path, n)
		}
		if n, ok := arrayTables[path]; ok {
			path = fmt.Sprintf("%s[%d]", path, n-1)
		}
	}
	return path
}

func keyParts(it unstable.Iterator) ([]string, *unstable.Node) {
	var parts []string
	var first *unstable.Node
	for it.Next() {
		if first == nil {
			first = it.Node()
		}
		parts = append(parts, string(it.Node().Data))
	}
	return parts, first
}

func (ix *positions) keyValue(prefix string, kv *unstable.Node) {
	parts, first := keyParts(kv.Key())
	path := prefix
	for _, part := range parts {
		path = join(path, part)
	}
	value := kv.Value()
	at := ix.valueStart(kv, value)
	ix.add(path, located{key: ix.at(first.Raw.Offset), value: at, kind: value.Kind})
	ix.children(path, value)
}

// children indexes the elements of an array and the entries of an inline table.
func (ix *positions) children(path string, value *unstable.Node) {
	switch value.Kind {
	case unstable.InlineTable:
		for it := value.Children(); it.Next(); {
			ix.keyValue(path, it.Node())
		}
	case unstable.Array:
		i := 0
		for it := value.Children(); it.Next(); i++ {
			elem := it.Node()
			elemPath := fmt.Sprintf("%s[%d]", path, i)
			at := ix.elementStart(elem)
			ix.add(elemPath, located{key: at, value: at, kind: elem.Kind})
			ix.children(elemPath, elem)
		}
	}
}

// valueStart is where a key's value begins. The parser keeps no range for arrays and inline
// tables, so for those it is the first non-blank byte after the equals sign, as go-toml's
// own errors count it.
func (ix *positions) valueStart(kv, value *unstable.Node) pos {
	if value.Kind != unstable.Array && value.Kind != unstable.InlineTable {
		return ix.at(value.Raw.Offset)
	}
	var last unstable.Range
	for it := kv.Key(); it.Next(); {
		last = it.Node().Raw
	}
	i := int(last.Offset + last.Length)
	for i < len(ix.data) && (ix.data[i] == ' ' || ix.data[i] == '\t' || ix.data[i] == '"' || ix.data[i] == '\'') {
		i++ // a quoted key's range leaves out its closing quote
	}
	i++ // the equals sign
	for i < len(ix.data) && (ix.data[i] == ' ' || ix.data[i] == '\t') {
		i++
	}
	return ix.at(uint32(i))
}

// elementStart is where an element of an array begins; an inline table's is its brace,
// found before its first key.
func (ix *positions) elementStart(elem *unstable.Node) pos {
	if elem.Kind != unstable.InlineTable && elem.Kind != unstable.Array {
		return ix.at(elem.Raw.Offset)
	}
	first := elem.Child()
	if first == nil || first.Kind != unstable.KeyValue {
		return pos{}
	}
	_, key := keyParts(first.Key())
	i := int(key.Raw.Offset)
	for i > 0 && ix.data[i] != '{' {
		i--
	}
	return ix.at(uint32(i))
}

func (ix *positions) add(path string, l located) {
	ix.byPath[path] = l
	if l.value.known() {
		ix.byValue[l.value] = path
	}
	if l.key.known() {
		ix.byKey[l.key] = path
	}
}

// at converts a byte offset into a line and column.
func (ix *positions) at(offset uint32) pos {
	if int(offset) > len(ix.data) {
		return pos{}
	}
	before := ix.data[:offset]
	line := strings.Count(string(before), "\n") + 1
	lineStart := strings.LastIndexByte(string(before), '\n') + 1
	return pos{line, int(offset) - lineStart + 1}
}

// value is where path's value is written; for a key the file leaves out, the table that
// should hold it, so that a missing test name points at its [[test]].
func (ix *positions) value(path string) pos {
	for p := path; p != ""; p = parent(p) {
		if l, ok := ix.byPath[p]; ok {
			return l.value
		}
	}
	return pos{}
}

// key is where path's key is written.
func (ix *positions) key(path string) pos {
	if l, ok := ix.byPath[path]; ok {
		return l.key
	}
	return ix.value(path)
}

func (ix *positions) kind(path string) (unstable.Kind, bool) {
	l, ok := ix.byPath[path]
	return l.kind, ok
}

func join(path, part string) string {
	if path == "" {
		return part
	}
	return path + "." + part
}

// parent drops the last key or index of a path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

var indexes = regexp.MustCompile(`\[\d+\]`)

// display is a path as users read it: the key without array positions ("test.timeout"),
// since the line and column already say which one.
func display(path string) string { return indexes.ReplaceAllString(path, "") }
