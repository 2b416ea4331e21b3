// Package memstat reads the memory the operating system charges to this
// process: its resident set now and at its peak. On Linux they come from
// /proc/self/status (VmRSS, VmHWM); elsewhere they read as zero.
package memstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Process is a snapshot of the process's resident memory, in bytes.
type Process struct {
	RSS     uint64 // resident set size now (VmRSS)
	PeakRSS uint64 // largest resident set size so far (VmHWM)
}

// Read returns the current figures; zero, without error, where the system
// does not provide them.
func Read() (Process, error) {
	if runtime.GOOS != "linux" {
		return Process{}, nil
	}
	b, err := os.ReadFile("/proc/self/status")
	if errors.Is(err, os.ErrNotExist) {
		return Process{}, nil
	}
	if err != nil {
		return Process{}, fmt.Errorf("memstat: %w", err)
	}
	return Parse(bytes.NewReader(b))
}

// Parse reads VmRSS and VmHWM from text in the format of Linux's
// /proc/<pid>/status ("VmRSS:\t  123456 kB"). Missing fields read as zero.
func Parse(r io.Reader) (Process, error) {
	var p Process
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch key {
		case "VmRSS":
			dst = &p.RSS
		case "VmHWM":
			dst = &p.PeakRSS
		default:
			continue
		}
		f := strings.Fields(val)
		if len(f) == 0 {
			return Process{}, fmt.Errorf("memstat: empty %s", key)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return Process{}, fmt.Errorf("memstat: %s: %w", key, err)
		}
		unit := uint64(1)
		if len(f) > 1 {
			switch strings.ToLower(f[1]) {
			case "kb":
				unit = 1 << 10
			case "mb":
				unit = 1 << 20
			case "gb":
				unit = 1 << 30
			default:
				return Process{}, fmt.Errorf("memstat: %s: unknown unit %q", key, f[1])
			}
		}
		*dst = n * unit
	}
	if err := sc.Err(); err != nil {
		return Process{}, fmt.Errorf("memstat: %w", err)
	}
	return p, nil
}
