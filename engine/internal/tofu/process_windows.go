package tofu

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// sysProcAttr starts tofu in its own console process group, which a CTRL_BREAK event
// can address without reaching the server.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

var generateConsoleCtrlEvent = syscall.NewLazyDLL("kernel32.dll").NewProc("GenerateConsoleCtrlEvent")

// interrupt sends tofu's process group CTRL_BREAK, which Go programs such as tofu
// receive as an interrupt. Without a console to share it does nothing; a forced
// cancel then stops tofu.
func interrupt(p *os.Process) {
	const ctrlBreakEvent = 1
	_, _, _ = generateConsoleCtrlEvent.Call(ctrlBreakEvent, uintptr(p.Pid))
}

// killGroup ends tofu and the processes it started (its tree: Windows has no process
// group to signal). Once tofu has exited its tree cannot be found, and its pid may be
// another process's: nothing is done.
func killGroup(p *os.Process, exited bool) {
	if exited {
		return
	}
	if err := exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(p.Pid)).Run(); err != nil {
		_ = p.Kill()
	}
}

// killedBySignal: Windows exit statuses do not tell a killed process apart.
func killedBySignal(*exec.ExitError) bool { return false }
