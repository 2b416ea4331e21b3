//go:build !unix

package vision

import "time"

func processCPU() time.Duration { return 0 }
