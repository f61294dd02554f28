package ops

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/regionhmc/websesam-intake/intake/ops/opstest"
	"github.com/regionhmc/websesam-intake/mailer/mailtest"
	"github.com/regionhmc/websesam-intake/store"
)

func TestMetricsEdges(t *testing.T) {
	t.Run("nil ignores events", func(t *testing.T) {
		var m *Metrics
		m.MessageDecided(store.OutcomeQueued)
		m.ReplySent()
		m.ReplyFailed()
		m.ReplySuppressed("policy")
		m.RecipientDropped()
		m.IMAPReconnect()
		m.IMAPLoginRefused()
		m.PollSucceeded(time.Now())
	})
	t.Run("explicit hooks", func(t *testing.T) {
		m := NewMetrics(nil)
		m.ReplySuppressed("policy")
		m.ReplySuppressed("policy")
		m.ReplySuppressed("bounced")
		m.RecipientDropped()
		m.RecipientDropped()
		m.IMAPLoginRefused()
		m.PollSucceeded(time.UnixMilli(1_790_000_000_500))
		got := opstest.Scrape(t, opstest.Serve(t, m.Handler()))
		for key, want := range map[string]float64{
			`websesam_intake_replies_suppressed_total{reason="policy"}`:  2,
			`websesam_intake_replies_suppressed_total{reason="bounced"}`: 1,
			"websesam_intake_imap_login_refusals_total":                  1,
			"websesam_intake_recipients_dropped_total":                   2,
			"websesam_intake_last_poll_timestamp_seconds":                1_790_000_000.5,
		} {
			if got[key] != want {
				t.Errorf("%s = %v, want %v", key, got[key], want)
			}
		}
		if _, ok := got["websesam_intake_store_up"]; ok {
			t.Errorf("store_up reported without a store")
		}
	})
	t.Run("a closed store is reported, not a failed scrape", func(t *testing.T) {
		st, err := store.Open(t.TempDir()+"/intake.db", store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m := NewMetrics(st)
		st.Close()
		got := opstest.Scrape(t, opstest.Serve(t, m.Handler()))
		if v, ok := got["websesam_intake_store_up"]; !ok || v != 0 {
			t.Errorf("store_up = %v (present %v), want 0", v, ok)
		}
		if _, ok := got["websesam_intake_outbox_pending"]; ok {
			t.Errorf("outbox depth reported from a closed store")
		}
		if got[`websesam_intake_messages_total{outcome="queued"}`] != 0 {
			t.Errorf("counters not at zero")
		}
	})
	t.Run("only GET /metrics", func(t *testing.T) {
		addr := opstest.Serve(t, NewMetrics(nil).Handler())
		for _, c := range []struct {
			method, path string
			want         int
		}{{"GET", "/", 404}, {"POST", "/metrics", 405}, {"GET", "/metrics", 200}} {
			req, _ := http.NewRequest(c.method, "http://"+addr+c.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("%s %s: status %d, want %d", c.method, c.path, resp.StatusCode, c.want)
			}
		}
	})
}

func TestCheckMetricsAddr(t *testing.T) {
	tests := []struct {
		addr, wantErr string
	}{
		{"", ""},
		{"127.0.0.1:9464", ""},
		{"[::1]:9464", ""},
		{"localhost:9464", ""},
		{"0.0.0.0:9464", `"0.0.0.0" is not a loopback host`},
		{"192.0.2.1:9464", `"192.0.2.1" is not a loopback host`},
		{":9464", `"" is not a loopback host`},
		{"127.0.0.1", `want host:port, got "127.0.0.1"`},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := CheckMetricsAddr(tt.addr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMetricsAddr) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want ErrMetricsAddr with %q", err, tt.wantErr)
			}
		})
	}
	t.Run("ServeMetrics refuses before listening", func(t *testing.T) {
		err := ServeMetrics(context.Background(), "0.0.0.0:9464", NewMetrics(nil))
		if !errors.Is(err, ErrMetricsAddr) {
			t.Errorf("err = %v, want ErrMetricsAddr", err)
		}
	})
	t.Run("ServeMetrics serves until the context ends", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		m := NewMetrics(nil)
		m.ReplySent()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ServeMetrics(ctx, addr, m) }()
		var got map[string]float64
		mailtest.Wait(t, "the metrics server", 10*time.Second, func() bool {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return false
			}
			c.Close()
			return true
		})
		got = opstest.Scrape(t, addr)
		if got["websesam_intake_replies_sent_total"] != 1 {
			t.Errorf("replies_sent_total = %v, want 1", got["websesam_intake_replies_sent_total"])
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeMetrics after cancel: %v", err)
		}
	})
}
