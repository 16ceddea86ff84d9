# logkeeper. `make demo` runs the embedded demo; `make test` runs every test
# against real S3 (versitygw) and KMS (local-kms) servers it starts itself.
GO       ?= go
# The Go toolchain every build, test and tool install uses: the go command
# fetches it from the module proxy the first time (the machine's own Go may
# be older and carry known standard-library vulnerabilities).
export GOTOOLCHAIN := go1.27.3
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/logkeeper/logkeeper/service/app.Version=$(VERSION)
BENCH_MIB ?= 1024


.PHONY: all build demo test test-unit vet fmt-check bench bench-compare bench-scale bench-startup fuzz vuln test-seaweed test-minio clean docker

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/logkeeper ./cmd/logkeeper

demo: build
	./scripts/demo.sh

# Every test, with the race detector, against servers started for the run.
# Debian's chromium (the report's headless-browser test) is installed first
# when missing (it needs root; without it that test skips outside CI).
test:
	@./scripts/chromium.sh >/dev/null || echo "make test: chromium could not be installed; the report's browser test will skip (outside CI) or fail (in CI)" >&2
	./scripts/testenv.sh run -- $(GO) test -race -count=1 -timeout 30m ./...

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

# logkeeper side by side with the plain SDK and rclone on the same server
# and data: a large file, 5,000 small files, verify fast and deep vs. a
# download, peak RSS; prints the ratios (BENCHMARKS.md). Then the many-file
# rows of issue #14 (bench-scale): BENCH_SCALE_FILES on the file store next
# to the durable per-file copy, with verify and an incremental rerun, and
# BENCH_SCALE_S3_FILES on versitygw next to 16-worker PutObject. About an
# hour with the defaults; BENCH_SCALE_FILES= BENCH_SCALE_S3_FILES= skips them.
BENCH_SCALE_FILES ?= 1000000
BENCH_SCALE_S3_FILES ?= 200000
# Seconds of unmeasured durable copies before the many-file rows, so that
# neither the peer nor the export gets the disk's burst after a pause.
BENCH_SCALE_WARMUP ?= 240
bench-compare: build
	./scripts/testenv.sh run -- ./scripts/bench-compare.sh $(BENCH_MIB)
	if [ -n "$(strip $(BENCH_SCALE_FILES) $(BENCH_SCALE_S3_FILES))" ]; then \
	  BENCH_OUT=$(CURDIR)/bench-scale.jsonl BENCH_S3=$(if $(strip $(BENCH_SCALE_S3_FILES)),1,0) BENCH_S3_FILES="$(BENCH_SCALE_S3_FILES)" \
	  BENCH_FS=$(if $(strip $(BENCH_SCALE_FILES)),1,0) BENCH_WARMUP=$(BENCH_SCALE_WARMUP) ./scripts/testenv.sh run -- $(CURDIR)/scripts/bench-scale.sh $(BENCH_SCALE_FILES); fi

# Many tiny files (issue #14): the file store next to a durable per-file
# copy (write, fsync, rename), peak RSS, largest manifest, verify and an
# incremental run, for each of BENCH_FILES; BENCH_S3=1 adds versitygw next
# to 16-worker PutObject. Minutes to hours: never in CI.
BENCH_FILES ?= 10000 50000 120000
bench-scale: build
	BENCH_S3=$(BENCH_S3) ./scripts/testenv.sh run -- $(CURDIR)/scripts/bench-scale.sh $(BENCH_FILES)

# Start-up of a one-shot export on a 10,000-manifest chain next to a
# 10-manifest chain, on versitygw (issue 12, item 3): BENCHMARKS.md.
bench-startup: build
	./scripts/testenv.sh run -- ./scripts/bench-startup.sh

# FUZZTIME per target. Crashers land in the package's testdata/fuzz: commit
# them, they become regression seeds.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./manifest
	$(GO) test -run='^$$' -fuzz='^FuzzParseSignature$$' -fuzztime=$(FUZZTIME) ./manifest
	$(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) ./custody
	$(GO) test -run='^$$' -fuzz='^FuzzManifestBytes$$' -fuzztime=$(FUZZTIME) ./custody
	$(GO) test -run='^$$' -fuzz='^FuzzParseIndex$$' -fuzztime=$(FUZZTIME) ./custody/bundle
	$(GO) test -run='^$$' -fuzz='^FuzzParseProof$$' -fuzztime=$(FUZZTIME) ./custody/bundle
	$(GO) test -run='^$$' -fuzz='^FuzzSanitizePath$$' -fuzztime=$(FUZZTIME) ./export
	$(GO) test -run='^$$' -fuzz='^FuzzObjectKey$$' -fuzztime=$(FUZZTIME) ./export
	$(GO) test -run='^$$' -fuzz='^FuzzEscapeName$$' -fuzztime=$(FUZZTIME) ./export
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/config
	$(GO) test -run='^$$' -fuzz='^FuzzDecoders$$' -fuzztime=$(FUZZTIME) ./export/genesys
	$(GO) test -run='^$$' -fuzz='^FuzzHeaders$$' -fuzztime=$(FUZZTIME) ./export/genesys
	$(GO) test -run='^$$' -fuzz='^FuzzParseAuditFilters$$' -fuzztime=$(FUZZTIME) ./export/genesys
	$(GO) test -run='^$$' -fuzz='^FuzzParsePublicKeyPEM$$' -fuzztime=$(FUZZTIME) ./internal/signing
	$(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) ./internal/signing
	$(GO) test -run='^$$' -fuzz='^FuzzParsePrivateKeyPEM$$' -fuzztime=$(FUZZTIME) ./internal/signing
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeSSEContext$$' -fuzztime=$(FUZZTIME) ./internal/store/s3store
	$(GO) test -run='^$$' -fuzz='^FuzzEscape$$' -fuzztime=$(FUZZTIME) ./internal/cli
	$(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) ./internal/tsa

# govulncheck (pinned, installed into the tools cache) over every package.
vuln:
	./scripts/vuln.sh

# Real SSE-KMS: SeaweedFS with local-kms as its KMS (scripts/seaweed.sh
# builds weed once, 4-6 minutes, into the tools cache). Fails, not skips,
# when the server is missing.
test-seaweed:
	LOGKEEPER_REQUIRE_SEAWEED=1 ./scripts/seaweed.sh run -- $(GO) test -count=1 -run 'Seaweed' -v ./internal/e2e

# The S3 tests (storage conformance, the S3 store, end-to-end export and
# verify, Object Lock, legal holds, the tamper matrix) on MinIO with its
# built-in KMS: real SSE-KMS with the encryption context on single-part and
# multipart objects (scripts/minio.sh builds minio once into the tools
# cache). Fails, not skips, when the server is missing.
test-minio:
	LOGKEEPER_REQUIRE_SERVERS=1 LOGKEEPER_REQUIRE_MINIO=1 ./scripts/minio.sh run -- $(GO) test -count=1 -timeout 30m ./internal/store/... ./internal/e2e/...

# The container image (Dockerfile: static binary, distroless, non-root).
docker:
	docker build --build-arg VERSION=$(VERSION) -t logkeeper:$(VERSION) .

clean:
	rm -rf bin .demo
