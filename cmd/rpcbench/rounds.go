package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
)

// Round is one library run and the baseline runs right after it.
type Round struct {
	Results []Result `json:"results"`
	Ratios  []Ratio  `json:"ratios"`
}

// Median is the median of one result's rates over the rounds.
type Median struct {
	Name     string  `json:"name"`
	Rate     float64 `json:"rate"`
	SendRate float64 `json:"send_rate,omitempty"`
}

// runRounds alternates cfg.Rounds library runs with baseline runs in the
// same process (library, baselines, library, baselines, ...) and reports
// every round, then the median rates and the ratio of the medians: the
// measurement that the overhead bars are checked with.
func runRounds(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer) error {
	var rounds []Round
	var all []Result
	for i := range cfg.Rounds {
		lib, err := runLibrary(ctx, cfg, logger)
		if err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		base, err := runBaseline(ctx, cfg)
		if err != nil {
			return fmt.Errorf("round %d: %w", i+1, err)
		}
		results := append([]Result{lib}, base...)
		rounds = append(rounds, Round{Results: results, Ratios: ratios(cfg, results)})
		for _, r := range results {
			r.Name = fmt.Sprintf("%s#%d", r.Name, i+1)
			all = append(all, r)
		}
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "round %d of %d done\n", i+1, cfg.Rounds)
		}
	}
	medians := make([]Result, len(rounds[0].Results))
	for j := range medians {
		var rates, sendRates []float64
		for _, r := range rounds {
			rates = append(rates, r.Results[j].Rate)
			sendRates = append(sendRates, r.Results[j].SendRate)
		}
		medians[j] = Result{Name: rounds[0].Results[j].Name, Rate: median(rates), SendRate: median(sendRates)}
	}
	ratio := ratios(cfg, medians)
	if err := writeFiles(cfg, all); err != nil {
		return err
	}
	if cfg.JSON {
		ms := make([]Median, len(medians))
		for i, m := range medians {
			ms[i] = Median{m.Name, m.Rate, m.SendRate}
		}
		doc := map[string]any{"config": shown(cfg), "rounds": rounds, "medians": ms, "ratios": ratio}
		if len(ratio) > 0 {
			doc["ratio"] = ratio[0].Ratio
		}
		return writeJSON(out, doc)
	}
	header(out, cfg)
	for i, r := range rounds {
		for _, res := range r.Results {
			fmt.Fprintf(out, "round %d %-9s %s\n", i+1, res.Name+":", res.Summary())
		}
	}
	fmt.Fprintf(out, "median of %d rounds:", cfg.Rounds)
	for _, m := range medians {
		fmt.Fprintf(out, " %s %.0f msg/s", m.Name, m.Rate)
		if m.SendRate > 0 {
			fmt.Fprintf(out, " (sent %.0f msg/s)", m.SendRate)
		}
		fmt.Fprint(out, ";")
	}
	fmt.Fprintln(out)
	for _, r := range ratio {
		fmt.Fprintf(out, "ratio of the medians: %s\n", r.Text)
	}
	return nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
