package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/opencrs/opencrs/internal/store"
)

// handlerFunc serves one route: it returns the result payload (statusCode 0)
// or an error, which classify turns into the envelope.
type handlerFunc func(ctx context.Context, c *call) (any, error)

// route is one method and path pattern. Segments written "{}" match any one
// segment; their values are in call.vars in order.
type route struct {
	method string
	path   []string
	name   string // metrics/log label, e.g. "POST /targets"
	h      handlerFunc
	// msgObject: errors carry {"message": ...} rather than a string (search).
	msgObject bool
	// raw: the handler writes the response itself (/metrics).
	raw func(w http.ResponseWriter, r *http.Request)
}

type router struct {
	s        *Service
	listener string
	routes   []*route
}

func (rt *router) add(method, path string, h handlerFunc) *route {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	r := &route{method: method, path: segs, name: method + " " + path, h: h}
	rt.routes = append(rt.routes, r)
	return r
}

func (rt *router) match(method, path string) (*route, []string) {
	// Every path also works with a trailing slash (API.md §1).
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range rt.routes {
		if r.method != method || len(r.path) != len(segs) {
			continue
		}
		var vars []string
		ok := true
		for j, p := range r.path {
			if p == "{}" {
				if segs[j] == "" {
					ok = false
					break
				}
				vars = append(vars, segs[j])
			} else if p != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return r, vars
		}
	}
	return nil, nil
}

// call is one request in flight.
type call struct {
	r      *http.Request
	w      http.ResponseWriter
	vars   []string
	params map[string]string
	appID  string
	id     string // request id
}

// reqLog collects what the access log line reports about a request.
type reqLog struct {
	code  int
	appID string
	err   error
}

// Management returns the handler of the management listener.
func (s *Service) Management() http.Handler { return s.mgmt }

// Recognition returns the handler of the recognition listener.
func (s *Service) Recognition() http.Handler { return s.reco }

// statusWriter remembers the status for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := rt.s
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		id = store.RandomHex(12)
	}
	w.Header().Set("X-Request-Id", id)
	sw := &statusWriter{ResponseWriter: w}
	rl := &reqLog{}
	rte, vars := rt.match(r.Method, r.URL.Path)
	name := "unknown"
	if rte != nil {
		name = rte.name
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err := fmt.Errorf("panic: %v", p)
			s.log.Error("recovered panic", "requestId", id, "route", name, "panic", p, "stack", string(debug.Stack()))
			if sw.status == 0 {
				s.writeError(sw, rl, &apiError{http: 500, code: 500, msg: msgInternal, cause: err}, rte != nil && rte.msgObject)
			}
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		dur := time.Since(start)
		s.metrics.observe(rt.listener, name, status, dur)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("requestId", id),
			slog.String("listener", rt.listener),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("route", name),
			slog.Int("status", status),
			slog.Int("code", rl.code),
			slog.Duration("duration", dur),
			slog.String("remote", r.RemoteAddr),
		}
		if rl.appID != "" {
			attrs = append(attrs, slog.String("appId", rl.appID))
		}
		if rl.err != nil {
			attrs = append(attrs, slog.String("err", rl.err.Error()))
		}
		s.log.LogAttrs(r.Context(), level, "request", attrs...)
	}()

	if rte == nil {
		s.writeError(sw, rl, &apiError{http: http.StatusNotFound, code: 404,
			msg: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)}, false)
		return
	}
	if rte.raw != nil {
		rte.raw(sw, r)
		return
	}
	if r.ContentLength > s.cfg.MaxBody {
		s.writeError(sw, rl, tooLarge(r.ContentLength, s.cfg.MaxBody), rte.msgObject)
		return
	}
	r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBody)
	c := &call{r: r, w: sw, vars: vars, id: id}
	res, err := rte.h(r.Context(), c)
	rl.appID = c.appID
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = tooLarge(mbe.Limit+1, mbe.Limit)
		}
		s.writeError(sw, rl, classify(err), rte.msgObject)
		return
	}
	s.writeJSON(sw, http.StatusOK, 0, res)
}

func tooLarge(n, limit int64) *apiError {
	return &apiError{http: http.StatusRequestEntityTooLarge, code: 422, msg: msgTooLarge,
		cause: fmt.Errorf("body of %d bytes over the %d byte limit", n, limit)}
}

func (s *Service) writeError(w http.ResponseWriter, rl *reqLog, e *apiError, msgObject bool) {
	rl.code, rl.err = e.code, e
	var result any = e.msg
	if msgObject {
		result = map[string]string{"message": e.msg}
	}
	s.writeJSON(w, e.http, e.code, result)
}

// writeJSON writes the envelope every response uses (API.md §1).
func (s *Service) writeJSON(w http.ResponseWriter, status, code int, result any) {
	body, err := json.Marshal(struct {
		StatusCode int   `json:"statusCode"`
		Result     any   `json:"result"`
		Timestamp  int64 `json:"timestamp"`
	}{code, result, s.now().UnixMilli()})
	if err != nil {
		status, code = http.StatusInternalServerError, 500
		body = fmt.Appendf(nil, `{"statusCode":500,"result":%q,"timestamp":%d}`, msgInternal, s.now().UnixMilli())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
