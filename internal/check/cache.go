package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/portabin/portabin/internal/atomicfile"
	"github.com/portabin/portabin/internal/cache"
)

// Cache keeps the report of every file checked, one entry per path, so that checking a file
// that has not changed since costs a stat and a small read instead of decoding its code again.
// An entry is used only when the file's identity (device, inode, size, modification and
// status-change times, the data git's index trusts for the same purpose) and the identity of
// the analysing executable both match what was saved; anything else, a damaged entry
// included, is a miss that checks the file again and replaces the entry.
//
// An entry is three lines that say what it is valid for, then the report as it appears in the
// document of `portabin check --json` (Encode). A run that names the file as the saved one did
// and has the same requirements copies those bytes to its output without decoding them; any
// other run decodes the report and judges it again. The first two lines are compared as bytes
// with what the run expects rather than parsed, which keeps a run over a thousand unchanged files
// within a few tens of milliseconds:
//
//	{"schema":"portabin.check-cache/v2","analyser":"...","file":{"path":...}}   entryValidity
//	{"path":"bin/prog","requirements":"kernel 0.0.0, isa \"\", dynamic false"}  entryRun
//	true 3456 2308551744                                         portable, report size, CRC-32C
//	{ ... the report ... }
type Cache struct {
	dir string
}

// NewCache uses dir for the entries; it is created when the first entry is written.
func NewCache(dir string) *Cache { return &Cache{dir: dir} }

// entrySchema changes whenever the layout of an entry changes; older entries are misses.
const entrySchema = "portabin.check-cache/v2"

// entryValidity is the first line of an entry: which file and analyser the report is of.
type entryValidity struct {
	Schema   string   `json:"schema"`
	Analyser string   `json:"analyser"`
	File     identity `json:"file"`
}

// entryRun is the second line: the saved report carries this path and the verdict for these
// requirements.
type entryRun struct {
	Path         string `json:"path"`
	Requirements string `json:"requirements"`
}

// identity is what changes when a file's content may have changed. Writing a file always
// moves its ctime, which no user-space call can set back.
type identity struct {
	Path  string `json:"path"`
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
}

func identify(path string) (identity, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return identity{}, false
	}
	st, err := os.Stat(abs)
	if err != nil {
		return identity{}, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || !st.Mode().IsRegular() {
		return identity{}, false
	}
	return identity{
		Path: abs, Dev: uint64(sys.Dev), Ino: sys.Ino, Size: st.Size(),
		Mtime: sys.Mtim.Nano(), Ctime: sys.Ctim.Nano(),
	}, true
}

// analyser names the running portabin executable by its own identity, so that a rebuilt
// portabin, whose analysis may differ, never trusts the reports of another.
var analyser = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	id, ok := identify(exe)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%s %d:%d %d %d %d", id.Path, id.Dev, id.Ino, id.Size, id.Mtime, id.Ctime)
})

func (c *Cache) entryPath(id identity) string {
	return filepath.Join(c.dir, cache.Key(id.Path)+".json")
}

// requirementsKey tells two runs' requirements apart.
func requirementsKey(req Requirements) string {
	return "kernel " + req.Kernel.String() + ", isa " + strconv.Quote(req.ISA) + ", dynamic " + strconv.FormatBool(req.AllowDynamic)
}

// File is File with the cache: the saved report when the file and the analyser are unchanged,
// else a fresh check whose report is saved. Failing to read or write the cache only costs time.
func (c *Cache) File(path string, req Requirements) (*Report, error) {
	enc, err := c.check(path, req, false)
	return enc.Report, err
}

// JSON is File for the JSON document: the report encoded by Encode. It is copied from the
// cache without being decoded when the saved entry names the file as path does and was
// judged by the same requirements.
func (c *Cache) JSON(path string, req Requirements) (Encoded, error) {
	return c.check(path, req, true)
}

// Encoded is a report with its encoding; Report is nil when the encoding came from the cache
// as it was.
type Encoded struct {
	Report   *Report
	JSON     []byte
	Portable bool
}

// Saved is JSON's answer when it can copy a saved encoding, and false when JSON would have to
// analyse the file or decode its report: a first pass over many files that needs no workers.
func (c *Cache) Saved(path string, req Requirements) (Encoded, bool) {
	e, ok := c.lookup(path, req)
	if !ok || e.body == nil || !bytes.Equal(e.savedRun, e.run) {
		return Encoded{}, false
	}
	return Encoded{JSON: e.body, Portable: e.portable}, true
}

// found is what the cache holds for a path: the run's own entry lines, and the saved entry's
// (nil body for a miss).
type found struct {
	id         identity
	valid, run []byte
	savedRun   []byte
	portable   bool
	body       []byte
}

// lookup finds path's entry; false when path cannot be cached at all.
func (c *Cache) lookup(path string, req Requirements) (found, bool) {
	id, ok := identify(path)
	who := analyser()
	if !ok || who == "" {
		return found{}, false
	}
	valid, err1 := json.Marshal(entryValidity{Schema: entrySchema, Analyser: who, File: id})
	run, err2 := json.Marshal(entryRun{Path: path, Requirements: requirementsKey(req)})
	if err1 != nil || err2 != nil {
		return found{}, false
	}
	e := found{id: id, valid: valid, run: run}
	e.savedRun, e.portable, e.body = c.load(c.entryPath(id), valid)
	return e, true
}

func (c *Cache) check(path string, req Requirements, wantJSON bool) (Encoded, error) {
	e, ok := c.lookup(path, req)
	if !ok {
		return fresh(path, req, wantJSON)
	}
	if e.body != nil {
		if wantJSON && bytes.Equal(e.savedRun, e.run) {
			return Encoded{JSON: e.body, Portable: e.portable}, nil
		}
		var rep Report
		if json.Unmarshal(e.body, &rep) == nil && rep.Schema == Schema {
			rep.Path = path
			rep.Portable, rep.Problems, rep.Verdict = false, nil, ""
			judge(&rep, req)
			return encoded(&rep, wantJSON)
		}
	}
	out, err := fresh(path, req, true)
	if err != nil {
		return Encoded{}, err
	}
	// A file that changed while it was read may not match its report: keep that report out.
	if after, ok := identify(path); ok && after == e.id {
		entry := fmt.Appendf(nil, "%s\n%s\n%t %d %d\n", e.valid, e.run, out.Portable, len(out.JSON), crc32.Checksum(out.JSON, castagnoli))
		_ = atomicfile.Write(c.entryPath(e.id), append(entry, out.JSON...), 0o644)
	}
	return out, nil
}

func fresh(path string, req Requirements, wantJSON bool) (Encoded, error) {
	rep, err := File(path, req)
	if err != nil {
		return Encoded{}, err
	}
	return encoded(rep, wantJSON)
}

func encoded(rep *Report, wantJSON bool) (Encoded, error) {
	out := Encoded{Report: rep, Portable: rep.Portable}
	if wantJSON {
		var err error
		if out.JSON, err = Encode(rep); err != nil {
			return Encoded{}, err
		}
	}
	return out, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// load reads the entry at name when its first line is valid, and returns its second line, the
// verdict and the report bytes; nil bytes for a miss or a damaged entry.
func (c *Cache) load(name string, valid []byte) (run []byte, portable bool, body []byte) {
	data := readSmall(name)
	defer readDone(data)
	line, rest, _ := bytes.Cut(data, []byte("\n"))
	if !bytes.Equal(line, valid) {
		return nil, false, nil
	}
	run, rest, _ = bytes.Cut(rest, []byte("\n"))
	sums, body, _ := bytes.Cut(rest, []byte("\n"))
	f := strings.Fields(string(sums))
	if len(f) != 3 {
		return nil, false, nil
	}
	portable, err1 := strconv.ParseBool(f[0])
	size, err2 := strconv.Atoi(f[1])
	crc, err3 := strconv.ParseUint(f[2], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil || size != len(body) || uint32(crc) != crc32.Checksum(body, castagnoli) {
		return nil, false, nil
	}
	return bytes.Clone(run), portable, bytes.Clone(body)
}

// readSmall reads a whole file with three system calls where os.ReadFile needs seven (it also
// asks for the size and registers the file with the poller), into a buffer used again for the
// next file: a cache of a thousand files is read in a fraction of the time. Any error gives
// nil. The bytes are valid until the buffer is given back with readDone.
func readSmall(name string) []byte {
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	buf := readBuffers.Get().(*[]byte)
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := syscall.Read(fd, b[len(b):cap(b)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			*buf = b
			readBuffers.Put(buf)
			return nil
		}
		if n == 0 {
			*buf = b
			return b
		}
		b = b[:len(b)+n]
	}
}

var readBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// readDone gives back the buffer of readSmall's answer b.
func readDone(b []byte) {
	if b != nil {
		readBuffers.Put(&b)
	}
}
