package vision

import (
	"bufio"
	"fmt"
	"image"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// TestExtractServe is the Go side of scripts/compare-opencv.py, which times
// our extraction and OpenCV's ORB on the same frames, interleaved frame by
// frame. It is skipped unless OPENCRS_EXTRACT_SERVE is set, and talks over
// stdin and stdout, one line each way:
//
//	-> path of a JPEG frame, once per frame, then an empty line
//	<- "frame W H" for each frame, decoded to grey before any timing as
//	   BenchmarkExtractFrames does, then "ready N" once every frame has been
//	   extracted once (to warm the pool and caches)
//	-> "x I": extract frame I (0-based) once
//	<- "r FEATURES THREAD_CPU_NS PROCESS_CPU_NS WALL_NS"
//	-> "q" or end of input: stop
//
// The goroutine stays locked to its thread, so THREAD_CPU_NS is the CPU time
// of the extraction alone (CLOCK_THREAD_CPUTIME_ID); PROCESS_CPU_NS adds the
// process's other threads over the same call (the garbage collector's workers,
// the runtime's monitor). Errors go to stderr and fail the test. The script
// runs it with GOMAXPROCS=2, so that the runtime's background work has a P of
// its own.
//
// The pipes are read and written with raw system calls, which the scheduler
// does not see: its P stays running while it waits for the next request. With
// os.Stdin the runtime saw the wait as a blocking system call (or, through
// the poller, as an idle process); on waking it set its monitor thread
// (sysmon) polling every 20 µs for the next millisecond or more, and the
// extraction that followed was preempted 15-30 times (involuntary context
// switches of the thread, from getrusage) and took 10-20% longer than the
// same requests sent back to back. With raw calls it is preempted about once
// per call, as in a plain loop.
func TestExtractServe(t *testing.T) {
	if os.Getenv("OPENCRS_EXTRACT_SERVE") == "" {
		t.Skip("set OPENCRS_EXTRACT_SERVE to serve extractions to scripts/compare-opencv.py")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, err := clockNow(clockThreadCPU); err != nil {
		t.Fatalf("thread CPU clock: %v", err)
	}

	in := bufio.NewScanner(rawFD(0))
	in.Buffer(make([]byte, 64<<10), 1<<20)
	out := bufio.NewWriter(rawFD(1))
	defer out.Flush()

	e := NewExtractor(DefaultConfig())
	var frames []*image.Gray
	for in.Scan() {
		name := in.Text()
		if name == "" {
			break
		}
		img, err := decodeGrayJPEG(name)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, img)
		fmt.Fprintf(out, "frame %d %d\n", img.Rect.Dx(), img.Rect.Dy())
	}
	runtime.GC() // the decoders' garbage, so that extraction reuses its memory
	for _, f := range frames {
		e.Extract(f)
	}
	fmt.Fprintf(out, "ready %d\n", len(frames))
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}

	for in.Scan() {
		line := in.Text()
		if line == "q" {
			return
		}
		s, ok := strings.CutPrefix(line, "x ")
		i, err := strconv.Atoi(s)
		if !ok || err != nil || i < 0 || i >= len(frames) {
			t.Fatalf("bad request %q (%d frames)", line, len(frames))
		}
		f := frames[i]
		p0, _ := clockNow(clockProcessCPU)
		c0, _ := clockNow(clockThreadCPU)
		w0 := time.Now()
		set := e.Extract(f)
		wall := time.Since(w0)
		c1, _ := clockNow(clockThreadCPU)
		p1, _ := clockNow(clockProcessCPU)
		fmt.Fprintf(out, "r %d %d %d %d\n", set.Len(), c1-c0, p1-p0, wall.Nanoseconds())
		if err := out.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Err(); err != nil {
		t.Fatal(err)
	}
}

// Linux clock ids (include/uapi/linux/time.h).
const (
	clockProcessCPU = 2 // CLOCK_PROCESS_CPUTIME_ID
	clockThreadCPU  = 3 // CLOCK_THREAD_CPUTIME_ID
)

// clockNow reads a clock with clock_gettime, in nanoseconds.
func clockNow(id uintptr) (int64, error) {
	var ts syscall.Timespec
	if _, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, id, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, errno
	}
	return ts.Nano(), nil
}

// rawFD reads and writes a blocking file descriptor with raw system calls
// (see TestExtractServe).
type rawFD int

func (fd rawFD) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch {
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			return 0, errno
		case n == 0:
			return 0, io.EOF
		}
		return int(n), nil
	}
}

func (fd rawFD) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done))
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return done, errno
		}
		done += int(n)
	}
	return done, nil
}
