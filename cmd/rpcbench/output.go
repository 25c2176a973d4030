package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"time"
)

// writeFiles writes the -csv and -plot files of results.
func writeFiles(cfg Config, results []Result) error {
	if cfg.CSV != "" {
		if err := writeFile(cfg.CSV, func(f *os.File) error { return writeCSV(f, results) }); err != nil {
			return fmt.Errorf("-csv: %w", err)
		}
	}
	if cfg.Plot != "" {
		if err := writeFile(cfg.Plot, func(f *os.File) error { return plot(f, cfg, results) }); err != nil {
			return fmt.Errorf("-plot: %w", err)
		}
	}
	return nil
}

func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeCSV writes a row per second of each run: the senders' side, and
// the receivers' for casts and notifications.
func writeCSV(f *os.File, results []Result) error {
	w := csv.NewWriter(f)
	w.Write([]string{"run", "side", "t_s", "count", "rate", "p50_us", "p99_us", "max_us", "errors"})
	us := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) }
	for _, r := range results {
		for _, side := range []struct {
			name   string
			points []Point
		}{{"send", r.Series}, {"receive", r.ReceiveSeries}} {
			for _, p := range side.points {
				w.Write([]string{r.Name, side.name, strconv.FormatFloat(p.At.Seconds(), 'f', 3, 64), strconv.FormatInt(p.Count, 10),
					strconv.FormatFloat(p.Rate, 'f', 1, 64), us(p.P50), us(p.P99), us(p.Max), strconv.FormatInt(p.Errors, 10)})
			}
		}
	}
	w.Flush()
	return w.Error()
}
