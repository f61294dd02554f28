# websesam-intake — see README.md. Every target works on a fresh clone with
# only Go installed, except e2e and bench (which install Dovecot and Postfix;
# root).

GO       ?= go
BIN      := bin/websesam-intake
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s
PREFIX   ?= /usr/local
DESTDIR  ?=
SYSCONFDIR ?= /etc
UNITDIR  ?= $(PREFIX)/lib/systemd/system
DOCDIR   ?= $(PREFIX)/share/doc/websesam-intake

.PHONY: all build test docs run bench fuzz e2e users install verify-unit clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/websesam-intake

# go vet, then every test with the race detector while staticcheck runs
# alongside (the tests spend much of their time waiting on processes and
# sockets; staticcheck's output is printed after theirs). vet and
# staticcheck each run without and with the e2e build tag: code that only
# the tagged tests use is unused in the untagged build. Fuzz targets run
# their seed corpus here as ordinary tests. It says first which outside tools
# some tests open real files with are missing here (those tests fail without
# them; .ci/run installs them), and last how long it took. The kill tests
# run in make e2e.
TEST_TOOLS := qpdf pdftk pdftotext tmux
# staticcheck, pinned, from the module proxy (the first run downloads and
# builds it; later runs use the build cache). Its default checks include
# U1000: unused code fails make test.
STATICCHECK_VERSION := v0.8.2
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
# ThreadSanitizer sleeps a second at the exit of every race-instrumented
# process (for late reports); the tests start hundreds of them (CLI runs,
# crash children, form workers), so make test turns the sleep off.
GORACE ?= atexit_sleep_ms=0
test:
	@start=$$(date +%s); missing=; \
	for t in $(TEST_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then echo "make test: missing optional tools:$$missing (apt-get install qpdf pdftk-java poppler-utils tmux); the tests that need them do not run fully here (in CI they must: .ci/run installs them)"; \
	else echo "make test: optional tools present: $(TEST_TOOLS)"; fi; \
	sc=$$(mktemp); { { $(STATICCHECK) ./... && $(STATICCHECK) -tags e2e ./...; } >$$sc.out 2>&1; echo $$? >$$sc; } & scpid=$$!; \
	echo "$(GO) vet ./... and with -tags e2e"; $(GO) vet ./... && $(GO) vet -tags e2e ./...; vrc=$$?; \
	echo "$(GO) test -race -count=1 ./... (staticcheck $(STATICCHECK_VERSION) ./..., without and with -tags e2e, alongside)"; \
	GORACE="$(GORACE)" $(GO) test -race -count=1 ./...; trc=$$?; \
	wait $$scpid; src=$$(cat $$sc); echo "staticcheck $(STATICCHECK_VERSION) ./... (without and with -tags e2e): exit $$src"; cat $$sc.out; rm -f $$sc $$sc.out; \
	rc=0; [ "$$vrc" = 0 ] && [ "$$trc" = 0 ] && [ "$$src" = 0 ] || rc=1; \
	echo "make test: $$(( $$(date +%s) - start ))s (exit $$rc: vet $$vrc, tests $$trc, staticcheck $$src)"; exit $$rc

# Rewrite the parts of docs/ that are written from the code and from
# deploy/config.example.toml (make test fails while they disagree).
docs:
	WEBSESAM_UPDATE_DOCS=1 $(GO) test -count=1 -run '^TestDocs' ./formparse ./cmd/websesam-intake

# The demo: an in-process IMAP server and SMTP sink on loopback, sample mail
# from testdata/mail, the real daemon, a store in a temporary directory.
# Ctrl-C stops it.
run: build
	./$(BIN) demo

# Every package's benchmarks, then the whole-system benchmark against real
# Dovecot and Postfix (.ci/e2e bench: needs root, installs them with apt on
# first use), then one table of both (.ci/benchtable), also written into
# README.md's performance block with the command, date and machine. The raw
# outputs stay in bin/bench-packages.txt and bin/bench-e2e.txt. Fails if
# either part did.
bench:
	@if [ "$$(id -u)" != 0 ]; then echo "make bench: run it as root: the whole-system part installs and starts Dovecot and Postfix"; exit 2; fi
	@mkdir -p bin; rm -f bin/bench-packages.txt bin/bench-packages.rc bin/bench-e2e.txt; \
	{ $(GO) test -run '^$$' -bench . -benchmem ./... 2>&1; echo $$? >bin/bench-packages.rc; } | tee bin/bench-packages.txt; \
	p=$$(cat bin/bench-packages.rc); \
	E2E_BENCH_OUT=$(CURDIR)/bin/bench-e2e.txt .ci/e2e bench; e=$$?; \
	.ci/benchtable bin/bench-packages.txt bin/bench-e2e.txt README.md; \
	if [ $$p -ne 0 ] || [ $$e -ne 0 ]; then echo "bench: package benchmarks exit $$p, whole-system exit $$e"; exit 1; fi

# Each fuzz target for FUZZTIME (go test accepts one -fuzz target per run).
# New inputs are not minimised (FUZZMINIMIZE=0): minimising a workbook takes
# up to a minute per input, which ate most of a 10-minute run of the
# workbook targets; a crasher is kept as found.
FUZZMINIMIZE ?= 0
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) $$pkg || exit 1; \
	  done; \
	done

# The service's system user and group (websesam-intake) and the support
# staff's group (websesam-staff), each only when missing. Root; run by
# install when DESTDIR is empty, so that the files below can be given to
# the service's group.
SERVICE_USER ?= websesam-intake
STAFF_GROUP  ?= websesam-staff
users:
	@getent group $(STAFF_GROUP) >/dev/null || { groupadd --system $(STAFF_GROUP) && echo "created group $(STAFF_GROUP)"; }
	@getent passwd $(SERVICE_USER) >/dev/null || { useradd --system --user-group --no-create-home \
	  --home-dir /nonexistent --shell /usr/sbin/nologin $(SERVICE_USER) && echo "created user $(SERVICE_USER)"; }

# The binary, the systemd unit (its paths follow PREFIX) and the example
# configuration. The configuration directory and file are root's and
# readable by the service's group (0750, 0640): the unit runs as
# $(SERVICE_USER), never as root. An existing configuration is never
# overwritten, only given to that group if it was not readable by it. With
# DESTDIR (packaging) no user is created; the group is used if it exists.
install: build
	@if [ -z "$(DESTDIR)" ]; then $(MAKE) -s users; fi
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/websesam-intake
	sed -e 's|/usr/local/|$(PREFIX)/|g' -e 's|/etc/websesam-intake/|$(SYSCONFDIR)/websesam-intake/|g' \
	  deploy/websesam-intake.service >$(DESTDIR)$(UNITDIR)/websesam-intake.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/websesam-intake.service
	install -m 0644 deploy/config.example.toml README.md $(DESTDIR)$(DOCDIR)/
	@etc=$(DESTDIR)$(SYSCONFDIR)/websesam-intake; \
	if getent group $(SERVICE_USER) >/dev/null; then grp=$(SERVICE_USER); \
	else grp=; echo "note: no group $(SERVICE_USER) here: $$etc is root's only; give it to that group before the first start"; fi; \
	install -d -m 0750 $${grp:+-g $$grp} $$etc || exit 1; \
	if [ -e $$etc/config.toml ]; then \
	  echo "kept the existing $$etc/config.toml"; \
	  if [ -n "$$grp" ] && { [ "$$(stat -c %G $$etc/config.toml)" != "$$grp" ] || [ -z "$$(find $$etc/config.toml -perm -g=r)" ]; }; then \
	    chgrp $$grp $$etc/config.toml && chmod g+r,o-rwx $$etc/config.toml && \
	    echo "gave $$etc/config.toml to group $$grp (0640): the service could not read it"; \
	  fi; \
	else \
	  install -m 0640 $${grp:+-g $$grp} deploy/config.example.toml $$etc/config.toml; \
	fi

# systemd-analyze verify on the unit with ExecStart pointing at the built
# binary; verify exits 0 on many problems, so any output fails too.
verify-unit: build
	@d=$$(mktemp -d); \
	sed 's|/usr/local/bin/websesam-intake|$(CURDIR)/$(BIN)|' deploy/websesam-intake.service >$$d/websesam-intake.service; \
	out=$$(systemd-analyze verify $$d/websesam-intake.service 2>&1); rc=$$?; rm -rf $$d; \
	if [ $$rc -ne 0 ] || [ -n "$$out" ]; then echo "$$out"; echo "verify-unit: systemd-analyze verify failed"; exit 1; fi; \
	echo "verify-unit: deploy/websesam-intake.service verified by $$(systemd-analyze --version | head -1)"

# The end-to-end suite against real Dovecot and Postfix on loopback (root;
# installs them with apt on first use). See .ci/e2e.
e2e:
	.ci/e2e

clean:
	rm -rf bin
