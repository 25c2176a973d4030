// Package pyjson reads the JSON that Python's json module writes, which
// OpenStack services use for oslo.messaging payloads, and holds the string
// scanning and quoting of the message envelope's hot path.
//
// Python writes two things encoding/json rejects or loses: the number
// tokens NaN, Infinity and -Infinity (json.dumps with allow_nan=True), and
// integers of any size. [Unmarshal] is encoding/json.Unmarshal with
// Decoder.UseNumber semantics that also takes the tokens: standard JSON gets
// encoding/json's results (the fast path: objects into plain structs are
// decoded without encoding/json's reflection, everything else through it),
// and only input holding a token takes a slower path, which still hands
// every part without one to encoding/json. [Parse] is the tolerant parse into generic values.
//
// For the envelope: [Fields] iterates over an object's members without
// decoding the values, [UnquoteString], [UnquoteStringView],
// [AppendUnquoted] and [AppendUnquotedContent] decode string literals, and
// [AppendString] encodes a Go string the way Python reads it.
//
// Malformed input is a *[SyntaxError] from this package's scanner (from
// Unmarshal, encoding/json's *json.SyntaxError); the wording of errors is
// not part of the promise. [StructField] is the struct field lookup of the
// slow path, for the packages that need the same one.
package pyjson
