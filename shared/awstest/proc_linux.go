package awstest

import "syscall"

// sysProcAttr puts moto_server in its own process group, so stop can end it
// with any children, and has the kernel end it if the test binary dies
// without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// signalGroup sends SIGTERM (or SIGKILL if kill) to the process group that
// pid leads.
func signalGroup(pid int, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-pid, sig)
}
