package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

func TestRabbitBaseline(t *testing.T) {
	rabbittest.Need(t)
	for _, mode := range []string{"call", "cast", "fanout"} {
		t.Run(mode, func(t *testing.T) {
			cfg, err := parseFlags([]string{"-url", "rabbit://guest:guest@127.0.0.1:5672/", "-mode", mode,
				"-n", "200", "-c", "4", "-servers", "2", "-warmup", "0", "-baseline", "-json"}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := run(context.Background(), cfg, &out); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Results []Result `json:"results"`
				Ratio   float64  `json:"ratio"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Results) != 3 || doc.Ratio <= 0 {
				t.Fatalf("results %+v", doc)
			}
			for _, r := range doc.Results {
				if r.Sent != 200 || r.Lost != 0 {
					t.Fatalf("%s: sent %d lost %d", r.Name, r.Sent, r.Lost)
				}
			}
		})
	}
}

func TestAMQPURI(t *testing.T) {
	for in, want := range map[string]string{
		"rabbit://":                           "amqp://guest:guest@localhost:5672/%2F",
		"rabbit://u:p%40ss@h:5673/vh":         "amqp://u:p%40ss@h:5673/vh",
		"rabbit://h1,h2/":                     "amqp://guest:guest@h1:5672/%2F",
		"rabbit://guest:guest@[::1]:5672/":    "amqp://guest:guest@[::1]:5672/%2F",
		"kombu://guest:guest@127.0.0.1:5672/": "amqp://guest:guest@127.0.0.1:5672/%2F",
	} {
		got, err := amqpURI(in)
		if err != nil || got != want {
			t.Errorf("amqpURI(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
