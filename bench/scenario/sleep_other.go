//go:build !linux

package scenario

import "time"

const (
	sleepMethod = "time.Sleep"
	calibrated  = false
)

// sleep is time.Sleep: outside Linux the wait is not calibrated, and a short
// wait may last as long as the runtime's timer granularity.
func sleep(d time.Duration) { time.Sleep(d) }
