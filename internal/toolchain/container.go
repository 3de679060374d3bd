package toolchain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/portabin/portabin/internal/cache"
	"github.com/portabin/portabin/internal/ccwrap"
	"github.com/portabin/portabin/internal/engine"
	"github.com/portabin/portabin/internal/logs"
	"github.com/portabin/portabin/internal/runner"
	"github.com/portabin/portabin/internal/target"
	"github.com/portabin/portabin/internal/uerr"
)

// ContainerOptions choose the engine and the image the container toolchain builds in.
type ContainerOptions struct {
	// Engine is "podman", "docker", or "" to use the first of them that is installed.
	Engine string
	// Image is used as is and must have a C compiler, make, cmake and meson; "" is portabin's
	// own builder, made from Alpine the first time it is needed.
	Image string
	// Stream receives the output of the build's commands when verbose; nil uses the debug log.
	Stream io.Writer
}

// builderContainerfile makes the default image. Its tag is derived from this text, so a change
// here makes a new image instead of reusing an old one.
const builderContainerfile = `FROM docker.io/library/alpine:3.20
RUN apk add --no-cache build-base cmake meson samurai linux-headers
`

type container struct {
	engine engine.Engine
	stream io.Writer
	image  string
	// builder is true when image is portabin's default, which Prepare builds when missing.
	builder bool
	// self is the portabin executable: the build's wrapper scripts run it inside the container.
	self string

	mu sync.Mutex
	// mounts maps host folders to whether the container may write them.
	mounts  map[string]bool
	imageID string
	// user is the --user value, empty to keep the image's (rootless docker maps its root to the caller).
	user       string
	userLooked bool
}

// NewContainer returns the toolchain that runs every build command inside a container image.
func NewContainer(o ContainerOptions) (Toolchain, error) {
	eng, err := engine.Find(o.Engine)
	if uerr.Code(err) == uerr.ExitEnvironment {
		return nil, uerr.Env(engine.Hint+", or use --toolchain zig (the default)", "%v", err)
	}
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return nil, fmt.Errorf("finding the portabin executable: %w", err)
	}
	c := &container{
		engine: eng,
		image:  o.Image,
		stream: o.Stream,
		self:   self,
		mounts: map[string]bool{},
	}
	if c.image == "" {
		c.image = "portabin-builder:" + cache.Key(builderContainerfile)
		c.builder = true
	}
	return c, nil
}

func (*container) Name() string { return "container" }

// ID names the engine and the image by its content, so that a rebuilt image changes cache keys.
func (c *container) ID() string {
	c.mu.Lock()
	id := c.imageID
	c.mu.Unlock()
	if id == "" {
		if img, err := c.inspect(context.Background()); err == nil {
			id = img.ID
		}
	}
	return fmt.Sprintf("container %s %s@%s", c.engine, c.image, id)
}

func (c *container) Prepare(ctx context.Context, t target.Target, opts Options) (ccwrap.Config, error) {
	if err := requireHostTarget("container", t); err != nil {
		return ccwrap.Config{}, err
	}
	if opts.SourceDir == "" || opts.BuildDir == "" {
		return ccwrap.Config{}, errors.New("the container toolchain needs the source and build folders")
	}
	img, err := c.inspect(ctx)
	if errors.Is(err, engine.ErrNoImage) && c.builder {
		if err = c.buildBuilder(ctx); err == nil {
			img, err = c.inspect(ctx)
		}
	}
	if errors.Is(err, engine.ErrNoImage) {
		return ccwrap.Config{}, uerr.Env(fmt.Sprintf("pull it (%s pull %s) or import it (%s load -i FILE)", c.engine, c.image, c.engine),
			"image %s not available to %s", c.image, c.engine)
	}
	if err != nil {
		return ccwrap.Config{}, err
	}
	if img.Architecture != "" && img.Architecture != t.OCIArch {
		return ccwrap.Config{}, uerr.Usage("use an image for "+t.OCIArch+", or --toolchain zig (the default)",
			"image %s is for %s, not %s", c.image, img.Architecture, t.Name)
	}
	user, err := c.runAs(ctx)
	if err != nil {
		return ccwrap.Config{}, err
	}
	source, err := filepath.Abs(opts.SourceDir)
	if err != nil {
		return ccwrap.Config{}, err
	}
	build, err := filepath.Abs(opts.BuildDir)
	if err != nil {
		return ccwrap.Config{}, err
	}
	for _, dir := range []string{source, build, c.self} {
		if strings.ContainsAny(dir, ":,") {
			return ccwrap.Config{}, uerr.Usage("use a folder whose path has no ':' or ','",
				"the container toolchain cannot mount %s", dir)
		}
	}
	c.mu.Lock()
	c.imageID, c.user = img.ID, user
	if !c.mounts[source] {
		c.mounts[source] = false
	}
	c.mounts[build] = true
	c.mu.Unlock()

	cc, cxx := imageCompilers(img.Env)
	compile, link := gccFlags(opts)
	return ccwrap.Config{
		Dialect:      ccwrap.GCC,
		CC:           cc,
		CXX:          cxx,
		AR:           []string{"ar"},
		RANLIB:       []string{"ranlib"},
		CompileFlags: compile,
		LinkFlags:    link,
		PIE:          opts.PIE,
	}, nil
}

// imageCompilers reads PORTABIN_CC and PORTABIN_CXX from an image's environment: images whose C
// compiler is not cc (Debian with musl-gcc) name it there.
func imageCompilers(env []string) (cc, cxx []string) {
	cc, cxx = []string{"cc"}, []string{"c++"}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if f := strings.Fields(v); len(f) > 0 {
			switch k {
			case "PORTABIN_CC":
				cc = f
			case "PORTABIN_CXX":
				cxx = f
			}
		}
	}
	return cc, cxx
}

type imageInfo struct {
	ID           string
	Architecture string
	Env          []string
}

// inspect asks the engine about the image; engine.ErrNoImage when the engine does not have it.
func (c *container) inspect(ctx context.Context) (imageInfo, error) {
	var info imageInfo
	cmd := c.command(ctx, "image", "inspect", "--format", "{{.Id}} {{.Architecture}} {{json .Config.Env}}", c.image)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return info, c.engine.Error(err, stderr.String())
	}
	fields := strings.SplitN(strings.TrimSpace(string(out)), " ", 3)
	if len(fields) != 3 {
		return info, fmt.Errorf("reading %s image inspect output %q", c.engine, out)
	}
	info.ID, info.Architecture = fields[0], fields[1]
	if err := json.Unmarshal([]byte(fields[2]), &info.Env); err != nil {
		return info, fmt.Errorf("reading the environment of image %s: %w", c.image, err)
	}
	return info, nil
}

// buildBuilder makes portabin's default image. It needs the network, once.
func (c *container) buildBuilder(ctx context.Context) error {
	logs.Progress.Printf("building the builder image %s (once)", c.image)
	if err := c.buildImage(ctx, builderContainerfile, c.image); err != nil {
		return &uerr.Error{
			Code:   uerr.ExitEnvironment,
			Msg:    fmt.Sprintf("could not build the builder image %s", c.image),
			Hint:   "building it downloads Alpine and its compilers; or give --image with an image that has them, or use --toolchain zig (the default)",
			Detail: uerr.DetailOf(err),
		}
	}
	return nil
}

func (c *container) buildImage(ctx context.Context, containerfile, tag string) error {
	dir, err := os.MkdirTemp("", "portabin-builder-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "Containerfile")
	if err := os.WriteFile(file, []byte(containerfile), 0o644); err != nil {
		return err
	}
	return runner.RunCaptured(ctx, c.command(ctx, "build", "-t", tag, "-f", file, dir), c.output())
}

// runAs returns the --user value that makes the build's outputs belong to the caller.
func (c *container) runAs(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.userLooked {
		return c.user, nil
	}
	user := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	if c.engine.Name == "docker" && os.Getuid() != 0 {
		// Rootless docker maps the container's root to the caller; any other user would map
		// to one of the caller's subordinate ids.
		cmd := c.command(ctx, "info", "--format", "{{json .SecurityOptions}}")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", c.engine.Error(err, stderr.String())
		}
		if strings.Contains(string(out), "rootless") {
			user = ""
		}
	}
	c.user, c.userLooked = user, true
	return user, nil
}

// output is where the engine's commands write as they run.
func (c *container) output() io.Writer {
	if c.stream != nil {
		return c.stream
	}
	return verboseStream()
}

// command is an engine invocation with the global flags this machine needs.
func (c *container) command(ctx context.Context, args ...string) *exec.Cmd {
	return c.engine.Command(ctx, args...)
}

// Runner runs each command in a new container of the image, with the source folder (read
// only), the build folder and the portabin executable mounted at their own paths, so that
// paths in the build (and its wrapper scripts) mean the same inside and out.
func (c *container) Runner() runner.Runner { return containerRunner{c} }

type containerRunner struct{ c *container }

func (r containerRunner) Run(ctx context.Context, cmd runner.Cmd) error {
	c := r.c
	if len(cmd.Args) == 0 {
		return errors.New("running an empty command")
	}
	c.mu.Lock()
	mounts := make(map[string]bool, len(c.mounts))
	for dir, writable := range c.mounts {
		mounts[dir] = writable
	}
	user := c.user
	c.mu.Unlock()
	for dir, writable := range mounts {
		if writable {
			// The engine would create a missing folder as root, or refuse.
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("creating build folder: %w", err)
			}
		}
	}
	name := engine.ContainerName()
	ec := c.command(ctx, c.runArgs(name, user, mounts, cmd)...)
	// Killing the engine's client would leave the container running.
	ec.Cancel = func() error {
		if err := c.command(context.Background(), "kill", name).Run(); err != nil {
			return ec.Process.Kill()
		}
		return nil
	}
	ec.WaitDelay = 30 * time.Second
	err := runner.RunCaptured(ctx, ec, c.output())
	if err == nil || ctx.Err() != nil || ec.ProcessState == nil {
		return err
	}
	detail := uerr.DetailOf(err)
	switch code := ec.ProcessState.ExitCode(); {
	case code == 125:
		// The engine's own failure: it could not make or start the container.
		return &uerr.Error{Code: uerr.ExitEnvironment,
			Msg:    fmt.Sprintf("%s could not start a container of %s", c.engine, c.image),
			Hint:   fmt.Sprintf("check that `%s run --rm %s true` works; global flags it needs can be given in %s", c.engine, c.image, engine.FlagsEnv),
			Detail: detail}
	case code == 127 && strings.Contains(detail, "executable file not found"):
		return uerr.Env("use an image that has it", "%s not found in image %s", cmd.Args[0], c.image)
	default:
		return &uerr.Error{Code: uerr.ExitFailed,
			Msg:    fmt.Sprintf("%s failed in %s (exit status %d)", shortCommand(cmd.Args), c.image, code),
			Detail: detail}
	}
}

// runArgs is the engine's command line for one build command.
func (c *container) runArgs(name, user string, mounts map[string]bool, cmd runner.Cmd) []string {
	args := []string{"run", "--rm", "--name", name, "--network", "none",
		// SELinux would deny the container the mounted folders; relabelling them is worse.
		"--security-opt", "label=disable"}
	args = append(args, c.engine.RunFlags()...)
	if c.engine.Name == "podman" {
		if os.Getuid() != 0 {
			// Rootless podman: make the caller's id the same inside and out.
			args = append(args, "--userns=keep-id")
		}
	}
	if user != "" {
		args = append(args, "--user", user)
	}
	dirs := make([]string, 0, len(mounts))
	for dir := range mounts {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	selfMounted := false
	for _, dir := range dirs {
		mode := ":ro"
		if mounts[dir] {
			mode = ""
		}
		args = append(args, "-v", dir+":"+dir+mode)
		selfMounted = selfMounted || strings.HasPrefix(c.self, dir+string(filepath.Separator))
	}
	if !selfMounted {
		args = append(args, "-v", c.self+":"+c.self+":ro")
	}
	if cmd.Dir != "" {
		args = append(args, "-w", cmd.Dir)
	}
	for _, kv := range cmd.Env {
		args = append(args, "-e", kv)
	}
	args = append(args, c.image)
	return append(args, cmd.Args...)
}

func shortCommand(args []string) string {
	if len(args) > 4 {
		return strings.Join(args[:4], " ") + " ..."
	}
	return strings.Join(args, " ")
}
