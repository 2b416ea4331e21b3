package memstat

import (
	"runtime"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Process
		err      bool
	}{
		{"linux", "Name:\topencrs\nVmPeak:\t 2000 kB\nVmHWM:\t    1536 kB\nVmRSS:\t    1024 kB\nThreads:\t4\n",
			Process{RSS: 1024 << 10, PeakRSS: 1536 << 10}, false},
		{"no memory lines (kernel thread)", "Name:\tkthreadd\nState:\tS (sleeping)\n", Process{}, false},
		{"bytes without unit", "VmRSS: 42\n", Process{RSS: 42}, false},
		{"bad number", "VmRSS:\t12x kB\n", Process{}, true},
		{"bad unit", "VmHWM:\t12 pages\n", Process{}, true},
		{"empty value", "VmRSS:\n", Process{}, true},
	} {
		got, err := Parse(strings.NewReader(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v, error %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestRead(t *testing.T) {
	p, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "linux" {
		if p != (Process{}) {
			t.Fatalf("non-Linux: %+v, want zero", p)
		}
		return
	}
	if p.RSS == 0 || p.PeakRSS < p.RSS {
		t.Fatalf("%+v: want RSS > 0 and peak >= RSS", p)
	}
	// Touching 64 MB raises the peak at least that far.
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	q, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	if q.PeakRSS < p.RSS+60<<20 {
		t.Fatalf("after touching 64 MB: peak %d, before RSS %d", q.PeakRSS, p.RSS)
	}
	runtime.KeepAlive(b)
}
