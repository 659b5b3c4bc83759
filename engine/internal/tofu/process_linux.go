package tofu

import "syscall"

// sysProcAttr starts tofu as the leader of its own process group, so a forced cancel
// reaches its providers, and has the kernel kill tofu when the server dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
