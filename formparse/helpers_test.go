package formparse

import "testing"

// parseCase is one input to a parser that answers the stored value and a
// second result: whether the input is valid (a bool) or why not (a reason).
type parseCase[R comparable] struct {
	in, want string
	second   R
}

// testParser runs parse over cases, one subtest per input, and compares
// both results exactly.
func testParser[R comparable](t *testing.T, name string, parse func(string) (string, R), tests []parseCase[R]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, second := parse(tt.in)
			if got != tt.want || second != tt.second {
				t.Errorf("%s(%q) = %q, %#v; want %q, %#v", name, tt.in, got, second, tt.want, tt.second)
			}
		})
	}
}

// funcCase is one input to a function of one result.
type funcCase[W comparable] struct {
	in   string
	want W
}

// testFunc runs f over cases, one subtest per input.
func testFunc[W comparable](t *testing.T, name string, f func(string) W, tests []funcCase[W]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := f(tt.in); got != tt.want {
				t.Errorf("%s(%q) = %#v, want %#v", name, tt.in, got, tt.want)
			}
		})
	}
}
