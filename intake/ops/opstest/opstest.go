// Package opstest reads the daemon's /metrics as Prometheus would, for the
// tests of intake/ops and of the daemon that feeds it. It imports nothing
// of this module, so ops's own tests can use it.
package opstest

import (
	"bufio"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Scrape reads /metrics at addr over a real loopback connection, checks
// that it is the Prometheus text format 0.0.4, and returns each sample
// line's value by its name with labels.
func Scrape(t testing.TB, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" || params["version"] != "0.0.4" || params["charset"] != "utf-8" {
		t.Errorf("Content-Type = %q, want text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// Serve serves h on a free port of 127.0.0.1 until the test ends and
// returns the address.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
