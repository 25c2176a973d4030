package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The plot: latency over time (p50 and p99 of each second) above, the
// latency histogram (share of messages per latency, logarithmic latency
// axis) below, one colour per run. It is drawn on a canvas that writes
// SVG by hand or PNG through image/png.
const (
	plotW, plotH = 960, 660
	marginL      = 80
	marginR      = 24
	topY0, topY1 = 90, 330 // latency over time
	botY0, botY1 = 410, 610
)

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xd6, 0x27, 0x28, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xff, 0x7f, 0x0e, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
}

var (
	black = color.RGBA{0, 0, 0, 0xff}
	grey  = color.RGBA{0xcc, 0xcc, 0xcc, 0xff}
	white = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

// canvas is what the plot draws with.
type canvas interface {
	rect(x, y, w, h float64, fill color.RGBA)
	polyline(pts [][2]float64, c color.RGBA, width float64, dashed bool)
	// text draws s with its baseline at y; anchor is "start", "middle" or
	// "end".
	text(x, y float64, s string, anchor string, c color.RGBA)
	finish(w io.Writer) error
}

// latencySeries returns the points that carry a run's latency: the
// receivers' for casts and notifications that were received, else the
// senders'.
func latencySeries(r Result) []Point {
	if len(r.ReceiveSeries) > 0 {
		return r.ReceiveSeries
	}
	return r.Series
}

// plot draws results to w, as SVG or PNG by cfg.Plot's extension.
func plot(w io.Writer, cfg Config, results []Result) error {
	var c canvas = newSVG()
	if strings.HasSuffix(cfg.Plot, ".png") {
		c = newPNG()
	}
	c.rect(0, 0, plotW, plotH, white)
	title := fmt.Sprintf("rpcbench %s  mode=%s  url=%s  concurrency=%d  size=%s  servers=%d",
		cfg.Role, cfg.Mode, redact(cfg.URL), cfg.Concurrency, cfg.sizeText(), cfg.Servers)
	c.text(marginL, 24, strings.Join(strings.Fields(title), " "), "start", black)
	lat := "round-trip latency"
	if cfg.Mode != "call" {
		lat = "one-way latency (publish latency when nobody receives)"
	}
	c.text(marginL, topY0-12, lat+" per second: p50 solid, p99 dashed", "start", black)
	c.text(marginL, botY0-12, "latency histogram: share of messages per latency (log scale)", "start", black)

	// Legend.
	x := float64(marginL)
	for i, r := range results {
		col := palette[i%len(palette)]
		c.polyline([][2]float64{{x, 44}, {x + 24, 44}}, col, 3, false)
		label := fmt.Sprintf("%s (p50 %v, p99 %v)", r.Name, round(r.Latency.P50), round(r.Latency.P99))
		c.text(x+30, 48, label, "start", black)
		x += 40 + 7*float64(len(label))
	}
	drawOverTime(c, results)
	drawHistogram(c, results)
	return c.finish(w)
}

func drawOverTime(c canvas, results []Result) {
	var tMax float64
	var yMax time.Duration
	for _, r := range results {
		for _, p := range latencySeries(r) {
			tMax = math.Max(tMax, p.At.Seconds())
			yMax = max(yMax, p.P99)
		}
	}
	if tMax == 0 || yMax == 0 {
		c.text(plotW/2, (topY0+topY1)/2, "no data", "middle", black)
		return
	}
	unit, name := latencyUnit(yMax)
	yTop := niceCeil(float64(yMax) / unit)
	tTop := niceCeil(tMax)
	px := func(t float64) float64 { return marginL + t/tTop*(plotW-marginL-marginR) }
	py := func(d time.Duration) float64 { return topY1 - float64(d)/unit/yTop*(topY1-topY0) }
	axes(c, topY0, topY1)
	for i := 0; i <= 5; i++ {
		v := yTop * float64(i) / 5
		y := topY1 - float64(i)/5*(topY1-topY0)
		c.polyline([][2]float64{{marginL, y}, {plotW - marginR, y}}, grey, 1, false)
		c.text(marginL-6, y+4, trimFloat(v)+" "+name, "end", black)
		t := tTop * float64(i) / 5
		c.text(px(t), topY1+16, trimFloat(t)+" s", "middle", black)
	}
	for i, r := range results {
		col := palette[i%len(palette)]
		var p50, p99 [][2]float64
		for _, p := range latencySeries(r) {
			if p.Count == 0 {
				continue
			}
			p50 = append(p50, [2]float64{px(p.At.Seconds()), py(p.P50)})
			p99 = append(p99, [2]float64{px(p.At.Seconds()), py(p.P99)})
		}
		c.polyline(p50, col, 2, false)
		c.polyline(p99, col, 2, true)
	}
}

// histBins is the number of logarithmic bins of the histogram.
const histBins = 60

func drawHistogram(c canvas, results []Result) {
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, r := range results {
		if r.hist != nil && r.hist.TotalCount() > 0 {
			lo, hi = min(lo, r.hist.Min()), max(hi, r.hist.Max())
		}
	}
	if hi == 0 {
		c.text(plotW/2, (botY0+botY1)/2, "no data", "middle", black)
		return
	}
	// Decades that cover [lo, hi].
	d0 := math.Floor(math.Log10(float64(max(lo, 1))))
	d1 := math.Ceil(math.Log10(float64(hi) + 1))
	if d1 <= d0 {
		d1 = d0 + 1
	}
	px := func(v float64) float64 {
		return marginL + (math.Log10(math.Max(v, 1))-d0)/(d1-d0)*(plotW-marginL-marginR)
	}
	shares := make([][]float64, len(results))
	top := 0.0
	for i, r := range results {
		if r.hist == nil || r.hist.TotalCount() == 0 {
			continue
		}
		bins := make([]float64, histBins)
		for _, b := range r.hist.Distribution() {
			if b.Count == 0 {
				continue
			}
			mid := float64(b.From+b.To) / 2
			k := int((math.Log10(math.Max(mid, 1)) - d0) / (d1 - d0) * histBins)
			bins[min(max(k, 0), histBins-1)] += float64(b.Count)
		}
		for k := range bins {
			bins[k] = 100 * bins[k] / float64(r.hist.TotalCount())
			top = math.Max(top, bins[k])
		}
		shares[i] = bins
	}
	yTop := niceCeil(top)
	py := func(share float64) float64 { return botY1 - share/yTop*(botY1-botY0) }
	axes(c, botY0, botY1)
	for i := 0; i <= 4; i++ {
		v := yTop * float64(i) / 4
		c.polyline([][2]float64{{marginL, py(v)}, {plotW - marginR, py(v)}}, grey, 1, false)
		c.text(marginL-6, py(v)+4, trimFloat(v)+" %", "end", black)
	}
	for d := d0; d <= d1; d++ {
		v := math.Pow(10, d)
		c.text(px(v), botY1+16, fmtLatency(time.Duration(v)), "middle", black)
	}
	c.text(plotW/2, botY1+36, "latency", "middle", black)
	for i, bins := range shares {
		if bins == nil {
			continue
		}
		col := palette[i%len(palette)]
		var pts [][2]float64
		for k, s := range bins {
			x0 := px(math.Pow(10, d0+(d1-d0)*float64(k)/histBins))
			x1 := px(math.Pow(10, d0+(d1-d0)*float64(k+1)/histBins))
			pts = append(pts, [2]float64{x0, py(s)}, [2]float64{x1, py(s)})
		}
		c.polyline(pts, col, 2, false)
	}
}

func axes(c canvas, y0, y1 float64) {
	c.polyline([][2]float64{{marginL, y0}, {marginL, y1}, {plotW - marginR, y1}}, black, 1, false)
}

// latencyUnit picks the unit of a latency axis whose top is d.
func latencyUnit(d time.Duration) (float64, string) {
	switch {
	case d >= 2*time.Second:
		return float64(time.Second), "s"
	case d >= 2*time.Millisecond:
		return float64(time.Millisecond), "ms"
	}
	return float64(time.Microsecond), "µs"
}

func fmtLatency(d time.Duration) string {
	unit, name := latencyUnit(d * 2)
	return trimFloat(float64(d)/unit) + " " + name
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// svgCanvas writes SVG 1.1.
type svgCanvas struct{ b strings.Builder }

func newSVG() *svgCanvas {
	c := &svgCanvas{}
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotW, plotH, plotW, plotH)
	return c
}

func hexColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func (c *svgCanvas) rect(x, y, w, h float64, fill color.RGBA) {
	fmt.Fprintf(&c.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, w, h, hexColor(fill))
}

func (c *svgCanvas) polyline(pts [][2]float64, col color.RGBA, width float64, dashed bool) {
	if len(pts) == 0 {
		return
	}
	c.b.WriteString(`<polyline fill="none" points="`)
	for i, p := range pts {
		if i > 0 {
			c.b.WriteByte(' ')
		}
		fmt.Fprintf(&c.b, "%.1f,%.1f", p[0], p[1])
	}
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="6,4"`
	}
	fmt.Fprintf(&c.b, `" stroke="%s" stroke-width="%.1f"%s/>`+"\n", hexColor(col), width, dash)
}

func (c *svgCanvas) text(x, y float64, s, anchor string, col color.RGBA) {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	fmt.Fprintf(&c.b, `<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s">%s</text>`+"\n", x, y, anchor, hexColor(col), r.Replace(s))
}

func (c *svgCanvas) finish(w io.Writer) error {
	c.b.WriteString("</svg>\n")
	_, err := io.WriteString(w, c.b.String())
	return err
}

// pngCanvas draws into an image with x/image's 7x13 bitmap font.
type pngCanvas struct{ img *image.RGBA }

func newPNG() *pngCanvas { return &pngCanvas{img: image.NewRGBA(image.Rect(0, 0, plotW, plotH))} }

func (c *pngCanvas) rect(x, y, w, h float64, fill color.RGBA) {
	for py := int(y); py < int(y+h); py++ {
		for px := int(x); px < int(x+w); px++ {
			c.img.SetRGBA(px, py, fill)
		}
	}
}

// dot paints a square of side width centred on (x, y).
func (c *pngCanvas) dot(x, y, width float64, col color.RGBA) {
	h := width / 2
	for py := int(math.Round(y - h)); py <= int(math.Round(y+h-0.5)); py++ {
		for px := int(math.Round(x - h)); px <= int(math.Round(x+h-0.5)); px++ {
			c.img.SetRGBA(px, py, col)
		}
	}
}

func (c *pngCanvas) polyline(pts [][2]float64, col color.RGBA, width float64, dashed bool) {
	walked := 0.0
	for i := 1; i < len(pts); i++ {
		x0, y0, x1, y1 := pts[i-1][0], pts[i-1][1], pts[i][0], pts[i][1]
		n := int(math.Ceil(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))))
		for s := 0; s <= n; s++ {
			t := 0.0
			if n > 0 {
				t = float64(s) / float64(n)
			}
			if !dashed || math.Mod(walked+t*math.Hypot(x1-x0, y1-y0), 10) < 6 {
				c.dot(x0+t*(x1-x0), y0+t*(y1-y0), width, col)
			}
		}
		walked += math.Hypot(x1-x0, y1-y0)
	}
}

func (c *pngCanvas) text(x, y float64, s, anchor string, col color.RGBA) {
	s = strings.ReplaceAll(s, "µ", "u") // the bitmap font is ASCII
	d := &font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: basicfont.Face7x13}
	w := float64(d.MeasureString(s).Round())
	switch anchor {
	case "middle":
		x -= w / 2
	case "end":
		x -= w
	}
	d.Dot = fixed.P(int(x), int(y))
	d.DrawString(s)
}

func (c *pngCanvas) finish(w io.Writer) error { return png.Encode(w, c.img) }
