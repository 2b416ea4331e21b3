package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencrs/opencrs/internal/api/apitest"
	"github.com/opencrs/opencrs/pkg/crsclient"
)

// server is a child `opencrs serve` process.
type server struct {
	cmd        *exec.Cmd
	out        map[string]string // credentials and URLs it printed
	mgmt, reco string
	stderr     *syncBuffer
	exited     chan error
}

// syncBuffer collects the child's stderr while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var printed = regexp.MustCompile(`^\s*(appId|appKey|appSecret|apiKey|apiSecret|management URL \(server-end\)|recognition URL \(client-end\)):\s+(\S+)`)

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "opencrs")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startServer runs the binary on free ports and waits until it prints its URLs.
func startServer(t *testing.T, bin, data string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data", data, "--mgmt-addr", "127.0.0.1:0", "--reco-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, out: map[string]string{}, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.exited
	})
	ready := make(chan struct{})
	go func() {
		// The map is complete, and no longer written, once ready closes:
		// the recognition URL is the last line serve prints.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := printed.FindStringSubmatch(sc.Text()); m != nil {
				s.out[m[1]] = m[2]
				if strings.HasPrefix(m[1], "recognition") {
					close(ready)
					break
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { s.exited <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-s.exited:
		s.exited <- err
		t.Fatalf("server exited before serving: %v\n%s", err, s.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start\n%s", s.stderr)
	}
	s.mgmt, s.reco = s.out["management URL (server-end)"], s.out["recognition URL (client-end)"]
	return s
}

// log returns what the server has logged once it holds every string of
// want, or after a few seconds. Its stderr is copied by a goroutine of
// its own, so a line logged before the URLs printed on stdout may not be
// in the buffer yet when startServer returns.
func (s *server) log(want ...string) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := s.stderr.String()
		all := true
		for _, w := range want {
			all = all && strings.Contains(l, w)
		}
		if all || time.Now().After(deadline) {
			return l
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRestartAfterKill9(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	ctx := context.Background()

	s1 := startServer(t, bin, data)
	for _, k := range []string{"appId", "appKey", "appSecret", "apiKey", "apiSecret"} {
		if s1.out[k] == "" {
			t.Fatalf("first start did not print %s", k)
		}
	}
	token, err := os.ReadFile(filepath.Join(data, adminTokenFile))
	if err != nil || len(bytes.TrimSpace(token)) == 0 {
		t.Fatalf("admin token file: %q, %v", token, err)
	}
	creds := s1.out
	client := func(s *server) *crsclient.Client {
		c, err := crsclient.New(crsclient.Config{ServerURL: s.mgmt, SearchURL: s.reco,
			AppID: creds["appId"], APIKey: creds["apiKey"], APISecret: creds["apiSecret"]})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := client(s1)
	ids := map[uint64]string{}
	for seed := uint64(1); seed <= 4; seed++ {
		tg, err := c1.CreateTarget(ctx, crsclient.TargetInput{Image: apitest.TextureJPEG(seed), Name: fmt.Sprint("t", seed)})
		if err != nil {
			t.Fatalf("create %d: %v", seed, err)
		}
		ids[seed] = tg.TargetID
	}
	// While the server holds the store, the offline CLI refuses clearly.
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"app", "list", "--data", data}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "locked") {
		t.Fatalf("offline CLI on a live store: code %d, %s", code, errb.String())
	}
	// Online, it goes through the admin API (token from DATA/admin.token).
	out.Reset()
	if code := run(ctx, []string{"app", "create", "--server", s1.mgmt, "--data", data, "--json", "--mode", "dau"}, &out, &errb); code != 0 {
		t.Fatalf("online app create: %s", errb.String())
	}
	var created map[string]string
	if err := json.Unmarshal(out.Bytes(), &created); err != nil || created["appId"] == "" || created["appKey"] == "" || created["appSecret"] == "" {
		t.Fatalf("app create --json: %q, %v", out.String(), err)
	}

	// kill -9: no shutdown, no flush. Every acknowledged write must survive.
	if err := s1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s1.exited
	s1.exited <- nil

	s2 := startServer(t, bin, data)
	if s2.out["appSecret"] != "" {
		t.Fatalf("second start created credentials again")
	}
	c2 := client(s2)
	if n, err := c2.Count(ctx); err != nil || n != len(ids) {
		t.Fatalf("count after restart = %d, %v; want %d", n, err, len(ids))
	}
	for seed, id := range ids {
		if _, err := c2.GetTarget(ctx, id); err != nil {
			t.Fatalf("target %s after restart: %v", id, err)
		}
		res, err := c2.Search(ctx, apitest.TextureJPEG(seed), crsclient.SearchOptions{})
		if err != nil || res.Target.TargetID != id {
			t.Fatalf("search for %s after restart: %+v, %v", id, res, err)
		}
	}
	if _, err := c2.Search(ctx, apitest.TextureJPEG(99), crsclient.SearchOptions{Multipart: true}); !errors.Is(err, crsclient.ErrNoMatch) {
		t.Fatalf("unrelated image: %v, want no match", err)
	}
	if !strings.Contains(s2.log(`"msg":"targets loaded","targets":4`), `"msg":"targets loaded","targets":4`) {
		t.Errorf("load not logged with its count:\n%s", s2.stderr)
	}
	if !strings.Contains(s2.stderr.String(), `"msg":"engine snapshot written"`) {
		t.Errorf("no snapshot after the first full load:\n%s", s2.stderr)
	}

	// Writes after that snapshot, then kill -9 again: the third start
	// restores the snapshot and must replay them from the store.
	if _, err := c2.DeleteTarget(ctx, ids[4]); err != nil {
		t.Fatal(err)
	}
	delete(ids, 4)
	tg, err := c2.CreateTarget(ctx, crsclient.TargetInput{Image: apitest.TextureJPEG(5), Name: "t5"})
	if err != nil {
		t.Fatal(err)
	}
	ids[5] = tg.TargetID
	if _, err := c2.UpdateTarget(ctx, ids[1], crsclient.TargetUpdate{Active: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if err := s2.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s2.exited
	s2.exited <- nil

	s3 := startServer(t, bin, data)
	if l := s3.log(`"msg":"engine restored from snapshot"`, `"replayed":3`); !strings.Contains(l, `"msg":"engine restored from snapshot"`) ||
		!strings.Contains(l, `"replayed":3`) {
		t.Errorf("third start did not restore the snapshot and replay 3 changes:\n%s", s3.stderr)
	}
	c3 := client(s3)
	for seed, id := range ids {
		res, err := c3.Search(ctx, apitest.TextureJPEG(seed), crsclient.SearchOptions{})
		if seed == 1 {
			if !errors.Is(err, crsclient.ErrNoMatch) {
				t.Fatalf("deactivated target after restore: %+v, %v", res, err)
			}
			continue
		}
		if err != nil || res.Target.TargetID != id {
			t.Fatalf("search for %s after restore: %+v, %v", id, res, err)
		}
	}
	if _, err := c3.Search(ctx, apitest.TextureJPEG(4), crsclient.SearchOptions{}); !errors.Is(err, crsclient.ErrNoMatch) {
		t.Fatalf("deleted target after restore: %v, want no match", err)
	}

	// SIGTERM: graceful, exit 0, store released for the offline CLI.
	if err := s3.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-s3.exited; err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, s3.stderr)
	}
	s3.exited <- nil
	out.Reset()
	if code := run(ctx, []string{"key", "create", "--data", data, "--app", created["appId"], "--perm", "READ", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("offline key create: %s", errb.String())
	}
	var key map[string]string
	if err := json.Unmarshal(out.Bytes(), &key); err != nil || key["apiKey"] == "" || key["apiSecret"] == "" {
		t.Fatalf("key create --json: %q, %v", out.String(), err)
	}
}

// TestGracefulShutdown cancels serve's context while a request is still
// sending its body: the listeners close, the request is answered in full,
// then serve returns and releases the store.
func TestGracefulShutdown(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- runServe(ctx, []string{"--data", data, "--mgmt-addr", "127.0.0.1:0", "--reco-addr", "127.0.0.1:0"}, outW, io.Discard)
		outW.Close()
	}()
	urls := map[string]string{}
	sc := bufio.NewScanner(outR)
	for sc.Scan() {
		if m := printed.FindStringSubmatch(sc.Text()); m != nil {
			urls[m[1]] = m[2]
			if strings.HasPrefix(m[1], "recognition") {
				break
			}
		}
	}
	go io.Copy(io.Discard, outR)
	mgmt := urls["management URL (server-end)"]
	if mgmt == "" {
		t.Fatalf("serve printed no URL: %v", <-errc)
	}

	bodyR, bodyW := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, mgmt+"/similar", bodyR)
	req.Header.Set("Content-Type", "application/json")
	// With 100-continue the client sends no body byte before the handler
	// asks for one, so once the first write below returns, the request is
	// being served (not merely queued in the kernel's accept backlog).
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		done <- result{res.StatusCode, b, err}
	}()
	if _, err := io.WriteString(bodyW, `{"image":"`); err != nil {
		t.Fatal(err)
	}

	cancel()
	// Wait until the listener is closed: shutdown has begun.
	for {
		c, err := net.Dial("tcp", strings.TrimPrefix(mgmt, "http://"))
		if err != nil {
			break
		}
		c.Close()
		runtime.Gosched()
	}
	io.WriteString(bodyW, `AAAA"}`)
	bodyW.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("in-flight request: %v", r.err)
	}
	var env struct {
		StatusCode int `json:"statusCode"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil || r.status != 401 || env.StatusCode != 1 {
		t.Fatalf("in-flight request answered HTTP %d %q", r.status, r.body)
	}
	if err := <-errc; err != nil {
		t.Fatalf("serve: %v", err)
	}
	cli(t, 0, "app", "list", "--data", data)
}

func ptr[T any](v T) *T { return &v }
