// Package pyjson decodes the JSON dialect produced by Python's json module,
// which OpenStack services use to encode oslo.messaging payloads.
//
// Python emits a few things that encoding/json rejects or mangles:
//
//   - the bare number tokens NaN, Infinity and -Infinity (json.dumps with
//     the default allow_nan=True);
//   - integers of any size (Python ints are unbounded);
//   - \uXXXX escapes for every non-ASCII character (ensure_ascii=True),
//     including surrogate pairs and, occasionally, lone surrogates.
//
// [Unmarshal] is a drop-in replacement for encoding/json.Unmarshal with
// Decoder.UseNumber semantics: standard JSON goes through encoding/json
// unchanged (the fast path) and only input that actually contains a Python
// number token takes the slower path through [Parse] and [Bind]. Integers of
// any size survive as json.Number (or reach a json.Unmarshaler such as
// *big.Int as their original text), and lone surrogates and invalid UTF-8
// become U+FFFD exactly as with encoding/json.
//
// [Fields] iterates over the members of a JSON object without decoding the
// values (the hot path for message envelopes), [UnquoteString] decodes a
// string literal it returned, and [AppendString] encodes a Go string the way
// the message encoder needs it.
//
// Syntax errors are reported as *json.SyntaxError values carrying the same
// message and Offset encoding/json would report for the same input (for
// input without Python tokens), and type errors as *json.UnmarshalTypeError
// values with the same Field path.
package pyjson
