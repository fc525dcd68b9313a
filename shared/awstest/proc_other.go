//go:build !linux

package awstest

import (
	"os"
	"syscall"
)

// sysProcAttr returns no special attributes: outside Linux, a test binary
// that dies without stopping moto_server leaves it running.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup interrupts (or, if kill, kills) the process pid.
func signalGroup(pid int, kill bool) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if kill {
		return p.Kill()
	}
	return p.Signal(os.Interrupt)
}
