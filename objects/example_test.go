package objects_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/oslo-go/messaging/objects"
)

// An object type: a struct embedding objects.Base, its fields tagged with
// their oslo names. The version history is in the tags (since=) and the
// Register options.
type Server struct {
	objects.Base
	UUID      string     `obj:"uuid,uuid"`
	Host      *string    `obj:"host,nullable"`
	State     string     `obj:"state,enum=active|stopped,default=active"`
	CreatedAt *time.Time `obj:"created_at,nullable"`
	Tags      []string   `obj:"tags,since=1.1"`
}

func Example() {
	reg := objects.NewRegistry("nova_object", "nova")
	reg.MustRegister(&Server{}, objects.Version("1.1"))

	// A primitive as a Python service sends it.
	var prim map[string]any
	_ = json.Unmarshal([]byte(`{
		"nova_object.name": "Server", "nova_object.namespace": "nova", "nova_object.version": "1.1",
		"nova_object.data": {"uuid": "5a8f", "host": null, "state": "active",
			"created_at": "2024-01-02T03:04:05Z", "tags": ["db"]}}`), &prim)
	o, err := reg.FromPrimitive(prim)
	if err != nil {
		log.Fatal(err)
	}
	srv := o.(*Server)

	// Change it: no setters, the change is detected.
	host := "compute-1"
	srv.Host = &host
	fmt.Println("changed:", objects.WhatChanged(srv))

	// Send it to a peer that knows only version 1.0.
	p, err := reg.ToPrimitive(srv, objects.TargetVersion("1.0"))
	if err != nil {
		log.Fatal(err)
	}
	b, _ := json.Marshal(p)
	fmt.Println(string(b))

	// The serializer does the same for RPC arguments and results.
	ser := objects.NewSerializer(reg)
	wire, _ := ser.SerializeEntity(context.Background(), []any{srv})
	fmt.Println(wire.([]any)[0].(map[string]any)["nova_object.version"])
	// Output:
	// changed: [host]
	// {"nova_object.changes":["host"],"nova_object.data":{"created_at":"2024-01-02T03:04:05Z","host":"compute-1","state":"active","uuid":"5a8f"},"nova_object.name":"Server","nova_object.namespace":"nova","nova_object.version":"1.0"}
	// 1.1
}
