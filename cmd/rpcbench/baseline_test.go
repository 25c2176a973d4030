package main

import (
	"testing"

	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

func TestRabbitBaseline(t *testing.T) {
	rabbittest.Need(t)
	for _, mode := range []string{"call", "cast", "fanout"} {
		t.Run(mode, func(t *testing.T) {
			var doc struct {
				Results []Result `json:"results"`
				Ratio   float64  `json:"ratio"`
			}
			runJSON(t, &doc, "-url", "rabbit://guest:guest@127.0.0.1:5672/", "-mode", mode,
				"-n", "200", "-c", "4", "-servers", "2", "-warmup", "0", "-baseline")
			if len(doc.Results) != 3 || doc.Ratio <= 0 || doc.Results[1].Name != "bare" || doc.Results[2].Name != "oslo-work" {
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
