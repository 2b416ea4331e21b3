// Package auth authenticates CRS API requests: it computes and checks request
// signatures, canonicalises request parameters into the map that is signed,
// checks client clocks, issues and verifies self-contained access tokens, and
// classifies a request into one of the four credential forms of the API
// (API key, cloud key, legacy cloud key, token).
//
// It is a pure library: it serves no HTTP and stores nothing. Key material is
// looked up through the Keys interface, which the caller implements over its
// storage. Failures meant for the client are *Error values carrying the API's
// HTTP status, statusCode and message; any other error returned by Verifier
// came from Keys (a storage fault) and should be answered as such.
package auth
