package auth

import "fmt"

// Error is an authentication or authorisation failure as the API reports it.
type Error struct {
	HTTP    int    // HTTP status of the response
	Code    int    // the envelope's statusCode
	Message string // the envelope's result
}

func (e *Error) Error() string {
	return fmt.Sprintf("auth: %s (http %d, code %d)", e.Message, e.HTTP, e.Code)
}

// Is makes errors.Is match on the API status rather than on identity, so a
// wrapped copy still compares equal to the sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.HTTP == e.HTTP && t.Code == e.Code && t.Message == e.Message
}

// The failures of API.md §2. They are the only *Error values this package
// returns; compare with errors.Is.
var (
	ErrInvalidKey       = &Error{401, 1, "invalid appId (appKey)"}
	ErrInvalidSignature = &Error{401, 2, "invalid signature"}
	ErrInvalidDate      = &Error{401, 3, "invalid date"}
	ErrNotExist         = &Error{401, 4, "appId (appKey) not exist"}
	ErrInvalidToken     = &Error{401, 6, "invalid token"}
	ErrForbidden        = &Error{403, 6, "invalid appkey token"}
)
