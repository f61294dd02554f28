# websesam-intake — see README.md. Every target works on a fresh clone with
# only Go installed, except e2e (which installs Dovecot and Postfix; root).

GO       ?= go
BIN      := bin/websesam-intake
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s
PREFIX   ?= /usr/local
DESTDIR  ?=

.PHONY: all build test run bench fuzz e2e clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/websesam-intake

# go vet, then every test with the race detector. Fuzz targets run their seed
# corpus here as ordinary tests.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# The demo. Until the daemon exists: write the blank forms and parse the
# sample forms in testdata/, so a newcomer sees what the product reads.
run: build
	@dir=$$(mktemp -d); \
	echo "== writing the four blank forms to $$dir"; \
	./$(BIN) form write $$dir && \
	echo && echo "== reading the sample filled forms in testdata/forms" && \
	./$(BIN) parse $$(find testdata/forms -name 'input.*' | sort) ; \
	echo && echo "(exit status of parse: $$?; 0 means every file was a readable form)"

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Each fuzz target for FUZZTIME (go test accepts one -fuzz target per run).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
