# logkeeper. `make demo` runs the embedded demo; `make test` runs every test
# against real S3 (versitygw) and KMS (local-kms) servers it starts itself.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/logkeeper/logkeeper/internal/app.Version=$(VERSION)
BENCH_MIB ?= 1024

.PHONY: all build demo test test-unit vet fmt-check bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/logkeeper ./cmd/logkeeper

demo: build
	./scripts/demo.sh

# Every test, with the race detector, against servers started for the run.
test:
	./scripts/testenv.sh run -- $(GO) test -race -count=1 ./...

# Unit tests only: integration tests skip without servers (outside CI).
test-unit:
	$(GO) test -count=1 ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Upload-path benchmarks (logkeeper vs. the SDK transfer manager) and the
# 1 GiB export to versitygw with throughput and peak RSS.
bench: build
	./scripts/testenv.sh run -- ./scripts/bench.sh $(BENCH_MIB)

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=30s ./manifest
	$(GO) test -run='^$$' -fuzz=FuzzSanitizePath -fuzztime=30s ./export
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=30s ./internal/config

clean:
	rm -rf bin .demo
