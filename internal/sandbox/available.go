package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Available returns nil when this host lets portabin build a sandbox, else why not. It builds
// a real (scratch) one, without a program, so it answers for every namespace and mount at once.
func Available() error {
	cmd := exec.CommandContext(context.Background(), "/proc/self/exe", "portabin-sandbox-init")
	cmd.Env = stageEnviron("init")
	cmd.Dir = "/"
	cmd.SysProcAttr = namespaceAttr(false)
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding portabin's own executable: %w", err)
	}
	cfg := initConfig{Exe: exe, Probe: true, TmpBytes: 1 << 20, Argv: []string{"probe"}}
	proc, err := startStage(cmd, cfg, nil, func(int) error { return nil })
	if err != nil {
		return fmt.Errorf("making namespaces: %w", explainStart(err))
	}
	cmd.Wait()
	st, err := proc.status()
	if err != nil {
		return fmt.Errorf("probing the sandbox: %w", err)
	}
	if st.Setup != "" {
		return fmt.Errorf("setting up the sandbox: %s", st.Setup)
	}
	return nil
}

// userNamespaceBlocker names the host setting that forbids unprivileged user namespaces, if any.
func userNamespaceBlocker() string {
	settings := []struct {
		file, bad, why string
		rootToo        bool
	}{
		{"/proc/sys/user/max_user_namespaces", "0", "user namespaces are disabled: user.max_user_namespaces=0", true},
		{"/proc/sys/kernel/unprivileged_userns_clone", "0", "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone=0", false},
		{"/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1", "AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns=1", false},
	}
	for _, s := range settings {
		data, err := os.ReadFile(s.file)
		if err == nil && strings.TrimSpace(string(data)) == s.bad && (s.rootToo || os.Getuid() != 0) {
			return s.why
		}
	}
	return ""
}
