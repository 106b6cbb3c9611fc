//go:build linux

package scenario

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const (
	sleepMethod = "timerfd"
	calibrated  = true
)

// timerFile is a timerfd(2) registered with the Go runtime's network
// poller: a goroutine reading it parks like one waiting on a socket, and is
// woken by epoll when the kernel's high-resolution timer fires.
type timerFile struct {
	f  *os.File
	fd int
}

// timerFiles is a bounded free list of timer files; each waiting goroutine
// takes one, so at most its capacity stay open when idle.
var timerFiles = make(chan *timerFile, 256)

func getTimerFile() (*timerFile, error) {
	select {
	case t := <-timerFiles:
		return t, nil
	default:
	}
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// A non-blocking descriptor: os.NewFile registers it with the poller.
	return &timerFile{f: os.NewFile(uintptr(fd), "timerfd"), fd: fd}, nil
}

func putTimerFile(t *timerFile) {
	select {
	case timerFiles <- t:
	default:
		_ = t.f.Close()
	}
}

// sleep parks the goroutine for d on a timerfd. If a timer file cannot be
// had or read, it falls back to time.Sleep (coarser, never shorter).
func sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t, err := getTimerFile()
	if err != nil {
		time.Sleep(d)
		return
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
		_ = t.f.Close()
		time.Sleep(d)
		return
	}
	var buf [8]byte // the expiration count
	if _, err := t.f.Read(buf[:]); err != nil {
		_ = t.f.Close()
		time.Sleep(d)
		return
	}
	putTimerFile(t)
}
