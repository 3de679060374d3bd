package check

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// Encode gives rep's JSON as it stands in the files array of the document WriteDocument
// writes: indented by two spaces a level, its first line without indentation, and with no
// newline at the end. Verdicts say ">=", so HTML characters are not escaped.
func Encode(rep *Report) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent(elementIndent, "  ")
	if err := enc.Encode(rep); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// elementIndent is the indentation of an element of the document's files array.
const elementIndent = "    "

// WriteDocument writes the JSON document of `portabin check --json`, {"files": [...], "schema":
// Schema}, exactly as encoding/json indents it, from the reports' encodings by Encode. Writing
// the saved encodings of unchanged files spares decoding and encoding them again.
func WriteDocument(w io.Writer, reports [][]byte) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if reports == nil {
		bw.WriteString("{\n  \"files\": null,\n")
	} else {
		bw.WriteString("{\n  \"files\": [")
		for i, r := range reports {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n" + elementIndent)
			bw.Write(r)
		}
		if len(reports) > 0 {
			bw.WriteString("\n  ")
		}
		bw.WriteString("],\n")
	}
	bw.WriteString("  \"schema\": \"" + Schema + "\"\n}\n")
	return bw.Flush()
}
