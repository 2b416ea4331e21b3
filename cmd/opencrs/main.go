// Command opencrs is the opencrs service and its command line: serve, app/key
// administration, target management against a server, search, evaluation and
// benchmarks. Each subcommand lives in its own file; this file only dispatches.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run receives the arguments after the subcommand name.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists every subcommand. Add a line here when adding a file.
func commands() map[string]command {
	return map[string]command{
		"serve":       {"run the service (management and recognition listeners)", runServe},
		"app":         {"manage databases: create, list, delete, limits, usage", runApp},
		"key":         {"manage API keys: create, list, revoke", runKey},
		"vocab":       {"train the visual vocabulary", runVocab},
		"target":      {"manage targets on a server: add, get, list, update, delete, count, import", runTarget},
		"index":       {"build: load a folder of images into a stopped server's data directory (offline bulk load)", runIndex},
		"search":      {"recognise an image (recognition server)", runSearch},
		"grade":       {"grade an image as a target", runGrade},
		"similar":     {"list targets similar to an image", runSimilar},
		"eval":        {"measure recognition on a labelled data set", runEval},
		"devset":      {"synthesise a labelled development set from the training pool", runDevset},
		"gen-targets": {"write deterministic distractor target images from the training pool", runGenTargets},
		"calibrate":   {"fit the engine score on a development set", runCalibrate},
		"bench":       {"load a running server with signed searches; latency and throughput", runBench},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "opencrs: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "opencrs %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: opencrs <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].summary)
	}
}
