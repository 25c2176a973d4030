package api

import (
	"encoding/json"
	"errors"
	"net/http"
)

// httpError is an error with the HTTP status it answers to.
type httpError struct {
	status  int
	message string
}

func (e *httpError) Error() string { return e.message }

func badRequest(message string) error { return &httpError{http.StatusBadRequest, message} }
func notFound(message string) error   { return &httpError{http.StatusNotFound, message} }

// faultNames are Trove's names of the error bodies, by status.
var faultNames = map[int]string{
	http.StatusBadRequest: "badRequest",
	http.StatusNotFound:   "itemNotFound",
}

// faultBody is the inside of an error body:
// {"itemNotFound": {"message": "...", "code": 404}}.
type faultBody struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// fault returns the status and body of the response to err: an httpError
// gives its own, anything else is a 500 instanceFault.
func fault(err error) (int, any) {
	status := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		status = he.status
	}
	name, ok := faultNames[status]
	if !ok {
		name = "instanceFault"
	}
	return status, map[string]faultBody{name: {Message: err.Error(), Code: status}}
}

// writeJSON writes a response with a JSON body (none when body is nil).
func writeJSON(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
