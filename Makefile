# Every build, vet and test uses the same tags: jwx_es256k (secp256k1 keys of Entra DIDs) and nomsgpack
# (drops gin's msgpack codec). An untagged build fails to compile on purpose.
TAGS    := jwx_es256k,nomsgpack
GO      := go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build run test fmt-check vet staticcheck unit deploy-check image-check config-table bench clean

all: test build

## build: the static binary bin/verifier, built exactly as the Dockerfile builds it
build:
	VERSION=$(VERSION) scripts/build-binary.sh bin/verifier

## test: everything CI checks — formatting, vet, staticcheck, the race-enabled tests, and the deploy module
test: fmt-check vet staticcheck unit deploy-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet -tags $(TAGS) ./...

staticcheck:
	$(GO) run $(STATICCHECK) -tags $(TAGS) ./...

unit:
	$(GO) test -race -tags $(TAGS) ./...

## deploy-check: vet, staticcheck and tests of the deploy module (its own go.mod, so kustomize stays out of
## the service): renders the Kubernetes overlays and runs the image check
deploy-check:
	cd deploy && $(GO) vet -tags $(TAGS) ./...
	cd deploy && $(GO) run $(STATICCHECK) -tags $(TAGS) ./...
	cd deploy && $(GO) test -race -tags $(TAGS) ./...

## image-check: without Docker, the Dockerfile's build (scripts/build-binary.sh): static, stripped, image under 30 MB
image-check:
	cd deploy && $(GO) test -tags $(TAGS) -count=1 -v -run 'Dockerfile|Dockerignore|Makefile|ImageBinary' .

## config-table: regenerate README's configuration table from config.Variables
config-table:
	$(GO) test -tags $(TAGS) -run TestReadmeConfigTable ./config -update

## bench: the Go benchmarks, with allocations
bench:
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
