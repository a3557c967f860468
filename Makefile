# Every build, vet and test uses the same tags: jwx_es256k (secp256k1 keys of Entra DIDs) and nomsgpack
# (drops gin's msgpack codec). An untagged build fails to compile on purpose.
TAGS    := jwx_es256k,nomsgpack
GO      := go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build run test fmt-check vet staticcheck unit bench clean

all: test build

## build: the static binary bin/verifier
build:
	CGO_ENABLED=0 $(GO) build -tags $(TAGS) -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/verifier ./cmd/verifier

## test: everything CI checks — formatting, vet, staticcheck, and the race-enabled tests
test: fmt-check vet staticcheck unit

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet -tags $(TAGS) ./...

staticcheck:
	$(GO) run $(STATICCHECK) -tags $(TAGS) ./...

unit:
	$(GO) test -race -tags $(TAGS) ./...

## bench: the Go benchmarks, with allocations
bench:
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
