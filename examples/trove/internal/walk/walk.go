// Package walk is the scripted tour of the Trove API that the all-in-one
// command takes and the tests repeat: create an instance, wait until it is
// ACTIVE, show it, list the instances, delete it and wait until it is gone,
// printing one numbered line per step.
package walk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Config describes a walk.
type Config struct {
	BaseURL string    // the API, such as http://127.0.0.1:8779
	Tenant  string    // the tenant (project) id in the paths
	Out     io.Writer // receives the progress lines
	// Timeout bounds each wait (for ACTIVE, for the deletion).
	Timeout time.Duration
}

// Result is what a walk saw.
type Result struct {
	InstanceID string
	// CreateRequestID is the request id of the create request, which the
	// services log while they build the instance.
	CreateRequestID string
	// Shown is the instance as show returned it once ACTIVE.
	Shown Instance
}

// Instance is the part of an instance body the walk reads.
type Instance struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Datastore struct {
		Type    string `json:"type"`
		Version string `json:"version"`
	} `json:"datastore"`
	Volume struct {
		Size        int      `json:"size"`
		Used        *float64 `json:"used"`
		Total       *float64 `json:"total"`
		Unavailable string   `json:"unavailable"`
	} `json:"volume"`
}

// pollInterval is the pause between two polls of a wait.
const pollInterval = 100 * time.Millisecond

// Run takes the walk.
func Run(ctx context.Context, cfg Config) (Result, error) {
	w := &walker{cfg: cfg, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}}
	defer w.client.CloseIdleConnections()
	return w.run(ctx)
}

type walker struct {
	cfg    Config
	client *http.Client
	step   int
}

func (w *walker) run(ctx context.Context) (Result, error) {
	var res Result
	instances := "/v1.0/" + w.cfg.Tenant + "/instances"

	// 1. Create.
	body := `{"instance": {"name": "walk-db", "flavorRef": "1", "volume": {"size": 2},
		"datastore": {"type": "mysql", "version": "5.7"}}}`
	var created struct{ Instance Instance }
	resp, err := w.do(ctx, "POST", instances, body, &created)
	if err != nil {
		return res, err
	}
	if err := expect(resp, http.StatusAccepted); err != nil {
		return res, err
	}
	res.InstanceID = created.Instance.ID
	res.CreateRequestID = resp.Header.Get("X-Openstack-Request-Id")
	w.printf("POST %s -> %s: instance %s %q is %s (request %s)", instances, resp.Status,
		res.InstanceID, created.Instance.Name, created.Instance.Status, res.CreateRequestID)
	instance := instances + "/" + res.InstanceID

	// 2. Wait for ACTIVE.
	start := time.Now()
	seen := created.Instance.Status
	err = w.poll(ctx, func() (bool, error) {
		var shown struct{ Instance Instance }
		resp, err := w.do(ctx, "GET", instance, "", &shown)
		if err != nil {
			return false, err
		}
		if err := expect(resp, http.StatusOK); err != nil {
			return false, err
		}
		if s := shown.Instance.Status; s != seen && s != "" {
			seen += " -> " + s
		}
		switch shown.Instance.Status {
		case "ACTIVE":
			return true, nil
		case "ERROR":
			return false, fmt.Errorf("instance %s went to ERROR", res.InstanceID)
		}
		return false, nil
	})
	if err != nil {
		return res, fmt.Errorf("waiting for ACTIVE (%s): %w", seen, err)
	}
	w.printf("waiting for ACTIVE: %s after %s", seen, since(start))

	// 3. Show: the volume usage comes from the guest agent.
	var shown struct{ Instance Instance }
	resp, err = w.do(ctx, "GET", instance, "", &shown)
	if err != nil {
		return res, err
	}
	if err := expect(resp, http.StatusOK); err != nil {
		return res, err
	}
	res.Shown = shown.Instance
	w.printf("GET %s -> %s: %s, %s %s, %s", instance, resp.Status, shown.Instance.Status,
		shown.Instance.Datastore.Type, shown.Instance.Datastore.Version, describeVolume(shown.Instance))

	// 4. List.
	var listed struct{ Instances []Instance }
	resp, err = w.do(ctx, "GET", instances, "", &listed)
	if err != nil {
		return res, err
	}
	if err := expect(resp, http.StatusOK); err != nil {
		return res, err
	}
	w.printf("GET %s -> %s: %d instance(s)", instances, resp.Status, len(listed.Instances))

	// 5. Delete.
	resp, err = w.do(ctx, "DELETE", instance, "", nil)
	if err != nil {
		return res, err
	}
	if err := expect(resp, http.StatusAccepted); err != nil {
		return res, err
	}
	w.printf("DELETE %s -> %s", instance, resp.Status)

	// 6. Wait until it is gone.
	start = time.Now()
	var gone *http.Response
	err = w.poll(ctx, func() (bool, error) {
		gone, err = w.do(ctx, "GET", instance, "", nil)
		return err == nil && gone.StatusCode == http.StatusNotFound, err
	})
	if err != nil {
		return res, fmt.Errorf("waiting for the deletion: %w", err)
	}
	w.printf("waiting for the deletion: GET %s -> %s after %s", instance, gone.Status, since(start))
	return res, nil
}

// describeVolume tells the volume size and the usage the guest reported.
func describeVolume(inst Instance) string {
	v := inst.Volume
	if v.Used == nil || v.Total == nil {
		return fmt.Sprintf("volume %d GB, usage unavailable: %s", v.Size, v.Unavailable)
	}
	return fmt.Sprintf("volume %d GB, filesystem %.2f of %.2f GB used", v.Size, *v.Used, *v.Total)
}

// do sends a request with a JSON body (none when empty) and decodes the
// JSON response into out (ignored when nil).
func (w *walker) do(ctx context.Context, method, path, body string, out any) (*http.Response, error) {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewBufferString(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.cfg.BaseURL+path, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(data)) // for expect's message
	return resp, nil
}

// expect checks the status of a response.
func expect(resp *http.Response, status int) error {
	if resp.StatusCode == status {
		return nil
	}
	body, _ := io.ReadAll(resp.Body)
	return fmt.Errorf("%s %s: got %s, want %d: %s", resp.Request.Method, resp.Request.URL.Path,
		resp.Status, status, bytes.TrimSpace(body))
}

// poll calls done every pollInterval until it returns true or an error,
// or the walk's timeout passes.
func (w *walker) poll(ctx context.Context, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not done after %s", w.cfg.Timeout)
		case <-ticker.C:
		}
	}
}

// printf prints the next numbered progress line.
func (w *walker) printf(format string, args ...any) {
	w.step++
	fmt.Fprintf(w.cfg.Out, "%2d. %s\n", w.step, fmt.Sprintf(format, args...))
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
