package main

import (
	"os"
	"runtime/debug"
)

// largeHeapGC sets the garbage collector for a process whose heap is mostly
// a long-lived index, unless the operator chose with GOGC. Go's default
// (GOGC=100) lets garbage grow to the size of the live heap before
// collecting: with a 1.5 GB index that is another 1.5 GB of RSS for nothing.
// The postings are pointer-free byte slices the collector does not scan, so
// collecting four times as often costs little CPU.
func largeHeapGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
}
