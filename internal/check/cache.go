package check

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
type Cache struct {
	dir string
}

// NewCache uses dir for the entries; it is created when the first entry is written.
func NewCache(dir string) *Cache { return &Cache{dir: dir} }

type cacheEntry struct {
	Schema   string   `json:"schema"`
	Analyser string   `json:"analyser"`
	File     identity `json:"file"`
	Report   *Report  `json:"report"`
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

// File is File with the cache: the saved report when the file and the analyser are unchanged,
// else a fresh check whose report is saved. Failing to read or write the cache only costs time.
func (c *Cache) File(path string, req Requirements) (*Report, error) {
	id, ok := identify(path)
	who := analyser()
	if !ok || who == "" {
		return File(path, req)
	}
	if rep := c.load(id, who); rep != nil {
		rep.Path = path
		rep.Portable, rep.Problems, rep.Verdict = false, nil, ""
		judge(rep, req)
		return rep, nil
	}
	rep, err := File(path, req)
	if err != nil {
		return nil, err
	}
	// A file that changed while it was read may not match its report: keep that report out.
	if after, ok := identify(path); ok && after == id {
		c.save(id, who, rep)
	}
	return rep, nil
}

func (c *Cache) load(id identity, who string) *Report {
	data, err := os.ReadFile(c.entryPath(id))
	if err != nil {
		return nil
	}
	var e cacheEntry
	if json.Unmarshal(data, &e) != nil || e.Schema != Schema || e.Analyser != who || e.File != id || e.Report == nil {
		return nil
	}
	return e.Report
}

func (c *Cache) save(id identity, who string, rep *Report) {
	data, err := json.Marshal(cacheEntry{Schema: Schema, Analyser: who, File: id, Report: rep})
	if err != nil {
		return
	}
	_ = atomicfile.Write(c.entryPath(id), data, 0o644)
}
