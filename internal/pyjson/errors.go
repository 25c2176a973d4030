package pyjson

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
)

// json.SyntaxError keeps its message in an unexported field, so a
// *json.SyntaxError with encoding/json's wording cannot be built directly.
// Instead, each scanner state that can fail is identified by a short prefix
// that puts encoding/json's scanner into that state; appending the offending
// byte and validating the result yields an error with exactly the message
// encoding/json would give. Only the Offset is then adjusted. This runs on
// error paths only.
const (
	ctxBeginValue = ``         // looking for beginning of value
	ctxBeginKey   = `{"":0,`   // looking for beginning of object key string
	ctxAfterKey   = `{""`      // after object key
	ctxAfterPair  = `{"":null` // after object key:value pair
	ctxAfterElem  = `[null`    // after array element
	ctxAfterTop   = `null`     // after top-level value
	ctxInString   = `"`        // in string literal
	ctxInEscape   = `"\`       // in string escape code
	ctxInHex      = `"\u`      // in \u hexadecimal character escape
	ctxInNumber   = `-`        // in numeric literal
	ctxAfterDot   = `0.`       // after decimal point in numeric literal
	ctxInExponent = `0e+`      // in exponent of numeric literal
)

// synErr returns a *json.SyntaxError for byte c found in the scanner state
// described by ctx (one of the ctx constants, or the prefix of a literal such
// as "tr"), with the given Offset. encoding/json reports an unexpected byte
// at index i with Offset i+1, and a premature end of input in a state where a
// space would be invalid as that space at Offset len(data).
func synErr(ctx string, c byte, offset int) error {
	input := make([]byte, 0, len(ctx)+1)
	input = append(input, ctx...)
	input = append(input, c)
	return craft(input, offset)
}

// errEOF returns encoding/json's "unexpected end of JSON input" error.
func errEOF(n int) error { return craft(nil, n) }

var depthTemplate = sync.OnceValue(func() []byte {
	return []byte(strings.Repeat("[", maxDepth+1))
})

// errDepth returns encoding/json's "exceeded max depth" error for the
// opening bracket at index i.
func errDepth(i int) error { return craft(depthTemplate(), i+1) }

func craft(input []byte, offset int) error {
	var discard struct{}
	err := json.Unmarshal(input, &discard)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		// Cannot happen for the prefixes above; fall back to the generic
		// end-of-input message rather than an empty one.
		err = json.Unmarshal(nil, &discard)
		errors.As(err, &se)
	}
	e := *se
	e.Offset = int64(offset)
	return &e
}
