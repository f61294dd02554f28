package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func idsOf(rs []Request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestListRequests(t *testing.T) {
	s, clk := openTest(t)
	// Seven requests a day apart: 1..7; 2 and 5 claimed; 3 is andring.
	names := []string{"Anna Svensson", "Bo Ek", "Cia Al", "Dan Berg", "Eva Ström", "Fia Lund", "Gun Åberg"}
	for i, n := range names {
		var first, last string
		fmt.Sscan(n, &first, &last)
		f := userFields(first, last, fmt.Sprintf("u%d@region.test", i+1), fmt.Sprintf("60215%d", i%2))
		if i == 2 {
			f["arende"] = "andring"
			f["andring_roll"] = "true"
		}
		record(t, s, testMessage(uint32(i+1), fmt.Sprintf("l%d@mail.test", i)), fmt.Sprintf("h%d", i), f)
		clk.add(24 * time.Hour)
	}
	for _, id := range []string{"WS-2026-000002", "WS-2026-000005"} {
		_, err := s.Claim(id, "eva", false)
		mustNoErr(t, err)
	}
	id := func(n ...int) []string {
		var out []string
		for _, i := range n {
			out = append(out, fmt.Sprintf("WS-2026-%06d", i))
		}
		return out
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		f        ListFilter
		want     []string
		wantNext string
	}{
		{"all newest first", ListFilter{}, id(7, 6, 5, 4, 3, 2, 1), ""},
		{"first page", ListFilter{Limit: 3}, id(7, 6, 5), "WS-2026-000005"},
		{"second page", ListFilter{Limit: 3, Before: "WS-2026-000005"}, id(4, 3, 2), "WS-2026-000002"},
		{"last page", ListFilter{Limit: 3, Before: "WS-2026-000002"}, id(1), ""},
		{"exact last page has no next", ListFilter{Limit: 1, Before: "WS-2026-000002"}, id(1), ""},
		{"queued", ListFilter{Status: StatusQueued}, id(7, 6, 4, 3, 1), ""},
		{"queued paged", ListFilter{Status: StatusQueued, Limit: 2, Before: "WS-2026-000006"}, id(4, 3), "WS-2026-000003"},
		{"claimed", ListFilter{Status: StatusClaimed}, id(5, 2), ""},
		{"done: none", ListFilter{Status: StatusDone}, nil, ""},
		{"type andring", ListFilter{Type: TypeAndring}, id(3), ""},
		{"since day 5", ListFilter{Since: t0.Add(4 * 24 * time.Hour)}, id(7, 6, 5), ""},
		{"queued since day 5", ListFilter{Status: StatusQueued, Since: t0.Add(4 * 24 * time.Hour)}, id(7, 6), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.ListRequests("eva", tc.f)
			mustNoErr(t, err)
			if got := idsOf(page.Requests); !slices.Equal(got, tc.want) {
				t.Errorf("ids: got %v, want %v", got, tc.want)
			}
			if page.Next != tc.wantNext {
				t.Errorf("next: got %q, want %q", page.Next, tc.wantNext)
			}
		})
	}
	entries, err := s.AuditList("auditor", AuditFilter{Actor: "eva", Limit: 1})
	mustNoErr(t, err)
	if len(entries) != 1 || entries[0].Action != AuditListRequests || entries[0].Count != 2 ||
		!slices.Equal(entries[0].Subjects, id(7, 6)) || entries[0].Detail != "status=queued type=" {
		t.Errorf("last audit entry: got %+v", entries)
	}

	for _, tc := range []struct {
		text string
		want []string
	}{
		{"anna", id(1)},
		{"SVENSSON", id(1)},
		{"anna svensson", id(1)},
		{"svensson anna", id(1)},
		{"  Gun   Åberg ", id(7)},
		{"åberg", id(7)},
		{"u3@region.test", id(3)},
		{"602151", id(6, 4, 2)},
		{"60215", id(7, 6, 5, 4, 3, 2, 1)},
		{"nobody", nil},
	} {
		t.Run("search "+tc.text, func(t *testing.T) {
			got, err := s.SearchRequests("eva", tc.text, 0)
			mustNoErr(t, err)
			if !slices.Equal(idsOf(got), tc.want) {
				t.Errorf("got %v, want %v", idsOf(got), tc.want)
			}
		})
	}
	if _, err := s.SearchRequests("eva", "  ", 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty search: got %v, want ErrInvalid", err)
	}
	// The search text never reaches the audit log.
	all, _ := s.AuditList("auditor", AuditFilter{Limit: 1000})
	for _, e := range all {
		if e.Detail != "" && (containsFold(e.Detail, "anna") || containsFold(e.Detail, "region.test")) {
			t.Errorf("audit entry holds a search value: %+v", e)
		}
	}
	// Paging the audit log.
	first, _ := s.AuditList("auditor", AuditFilter{Limit: 2})
	next, _ := s.AuditList("auditor", AuditFilter{Limit: 2, Before: first[1].Seq})
	if len(next) != 2 || next[0].Seq != first[1].Seq-1 {
		t.Errorf("audit paging: first %+v next %+v", first, next)
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
