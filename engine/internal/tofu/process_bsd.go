//go:build unix && !linux

package tofu

import "syscall"

// sysProcAttr starts tofu as the leader of its own process group, so a forced cancel
// reaches its providers.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
