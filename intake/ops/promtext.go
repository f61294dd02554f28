package ops

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// The Prometheus text exposition format, version 0.0.4, for the few
// counters and gauges of Metrics: a family is "# HELP", "# TYPE" and its
// samples; families are written sorted by name and samples by label value,
// as the client library did, and a family with no sample is left out.

// textFormat is the Content-Type of the text format.
const textFormat = "text/plain; version=0.0.4; charset=utf-8"

// Metric types as the format names them.
const (
	counter = "counter"
	gauge   = "gauge"
)

// value is one float64 series value, safe for concurrent use.
type value struct{ bits atomic.Uint64 }

// Set stores v.
func (v *value) Set(f float64) { v.bits.Store(math.Float64bits(f)) }

// Add adds f.
func (v *value) Add(f float64) {
	for {
		old := v.bits.Load()
		if v.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+f)) {
			return
		}
	}
}

// Inc adds 1.
func (v *value) Inc() { v.Add(1) }

// Get returns the value.
func (v *value) Get() float64 { return math.Float64frombits(v.bits.Load()) }

// vec is a family of values with one label, created on first use.
type vec struct {
	name, help, label string
	mu                sync.Mutex
	values            map[string]*value
}

func newVec(name, help, label string) *vec {
	return &vec{name: name, help: help, label: label, values: map[string]*value{}}
}

// WithLabelValues returns the value for one label value, creating it at 0.
func (v *vec) WithLabelValues(lv string) *value {
	v.mu.Lock()
	defer v.mu.Unlock()
	x, ok := v.values[lv]
	if !ok {
		x = new(value)
		v.values[lv] = x
	}
	return x
}

// collector emits every value of the family, as typ.
func (v *vec) collector(typ string) collectFunc {
	return func(emit emitFunc) {
		v.mu.Lock()
		defer v.mu.Unlock()
		for lv, x := range v.values {
			emit(v.name, v.help, typ, v.label, lv, x.Get())
		}
	}
}

// single is a family of one value without labels.
func single(name, help, typ string, v *value) collectFunc {
	return func(emit emitFunc) { emit(name, help, typ, "", "", v.Get()) }
}

// emitFunc takes one sample: its family's name, help and type, its label
// (name and value; "" for none) and its value.
type emitFunc func(name, help, typ, label, labelValue string, v float64)

// collectFunc emits the samples of one or more families at each scrape.
type collectFunc func(emitFunc)

// registry is the list of collectors; the zero value is empty and ready.
type registry struct {
	mu         sync.Mutex
	collectors []collectFunc
}

func (r *registry) register(cs ...collectFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, cs...)
}

type sample struct {
	label, labelValue string
	v                 float64
}

type family struct {
	name, help, typ string
	samples         []sample
}

// write gathers every collector's samples and writes them in the text
// format.
func (r *registry) write(w io.Writer) error {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	byName := map[string]*family{}
	for _, c := range cs {
		c(func(name, help, typ, label, lv string, v float64) {
			f, ok := byName[name]
			if !ok {
				f = &family{name: name, help: help, typ: typ}
				byName[name] = f
			}
			f.samples = append(f.samples, sample{label, lv, v})
		})
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	bw := bufio.NewWriter(w)
	for _, n := range names {
		f := byName[n]
		slices.SortStableFunc(f.samples, func(a, b sample) int { return strings.Compare(a.labelValue, b.labelValue) })
		bw.WriteString("# HELP " + f.name + " " + helpEscaper.Replace(f.help) + "\n")
		bw.WriteString("# TYPE " + f.name + " " + f.typ + "\n")
		for _, s := range f.samples {
			bw.WriteString(f.name)
			if s.label != "" {
				bw.WriteString("{" + s.label + `="` + labelEscaper.Replace(s.labelValue) + `"}`)
			}
			bw.WriteString(" " + formatFloat(s.v) + "\n")
		}
	}
	return bw.Flush()
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// formatFloat writes a value as the client library's text encoder does.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
