package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/opencrs/opencrs/internal/auth"
	"github.com/opencrs/opencrs/internal/store"
)

// apiError is a failure as the client sees it: HTTP status, statusCode and
// message, plus the cause for the log.
type apiError struct {
	http  int
	code  int
	msg   string
	cause error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d/%d %s: %v", e.http, e.code, e.msg, e.cause)
	}
	return fmt.Sprintf("%d/%d %s", e.http, e.code, e.msg)
}

func (e *apiError) Unwrap() error { return e.cause }

// Messages of the seed's status-code table.
const (
	msgParam        = "Parameter required not exists or not correct"
	msgTooLarge     = "The image or meta exceeds its maximum permitted size"
	msgAddFailed    = "fail to add image"
	msgSimilar      = "Cannot update target in database because similar target exists."
	msgDeleteFailed = "Target delete failed"
	msgEnable       = "Target enable error"
	msgExists       = "Target already exists"
	msgCandidates   = "Judge exceeds maxium candidates"
	msgImage        = "Image not correct"
	msgNotFound     = "Target not found"
	msgNoResult     = "No result: there is no matching."
	msgQPS          = "Exceed your QPS limitation."
	msgDaily        = "You have exceeded the limit of daily scanning."
	msgTimeout      = "Request timeout."
	msgInternal     = "Internal server error"
	msgCorrupt      = "Application exception caught, possible data error"
	msgUnavailable  = "Server unavailable, storage backend cannot be reached"
	msgNonSDK       = "non-sdk client for dau databases"
	msgSense46      = "Dau databases are not compatible with sense-4.6+ any more."
)

// business returns a management business error: HTTP 200, non-zero statusCode.
func business(code int, msg string, cause error) *apiError {
	return &apiError{http: http.StatusOK, code: code, msg: msg, cause: cause}
}

func errParam(format string, args ...any) *apiError {
	return business(414, msgParam, fmt.Errorf(format, args...))
}

// errUnparseable is a body that is not JSON at all: HTTP 400 with 414.
func errUnparseable(cause error) *apiError {
	return &apiError{http: http.StatusBadRequest, code: 414, msg: msgParam, cause: cause}
}

// classify maps any error to what the client is told. Store faults are
// recognised wherever they surface (auth lookups included), so an unavailable
// backend is always 502 and corrupt data always 501.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		if ae.code >= 500 || ae.http != http.StatusOK {
			return ae
		}
		// A business error whose cause is a store fault is the store's fault.
		if se := storeFault(ae.cause); se != nil {
			return se
		}
		return ae
	}
	var au *auth.Error
	if errors.As(err, &au) {
		return &apiError{http: au.HTTP, code: au.Code, msg: au.Message, cause: err}
	}
	if se := storeFault(err); se != nil {
		return se
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &apiError{http: http.StatusRequestTimeout, code: 19, msg: msgTimeout, cause: err}
	}
	return &apiError{http: http.StatusInternalServerError, code: 500, msg: msgInternal, cause: err}
}

func storeFault(err error) *apiError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrUnavailable):
		return &apiError{http: http.StatusBadGateway, code: 502, msg: msgUnavailable, cause: err}
	case errors.Is(err, store.ErrCorrupt):
		return &apiError{http: http.StatusNotImplemented, code: 501, msg: msgCorrupt, cause: err}
	}
	return nil
}
