# The one build tag, here and nowhere else to choose: nomsgpack drops gin's msgpack codec, which we never use
# (6.5 MB of a 33 MB binary). scripts/build-binary.sh (the release build), .ci/run (through this file) and
# .vscode/settings.json (gopls) use the same value; deploy/image_test.go fails when one of them differs. An
# untagged `go build` / `go run` still works, only bigger. (ES256K needs no tag: wellknown/es256k.go.)
TAGS    := nomsgpack
GO      := go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# VERSION, when set, overrides the release version of cmd/verifier/version.go (e.g. VERSION=0.2.0-rc.1).
VERSION ?=
# CONFIG: the NAME=value file `make run` reads (see README, "Develop against the real services").
CONFIG  ?= verifier.env

.PHONY: all build sandbox run test fmt-check vet staticcheck unit deploy-check image-check config-table bench clean

all: test build

## build: the static binary bin/verifier, built exactly as the Dockerfile builds it
build:
	VERSION=$(VERSION) scripts/build-binary.sh bin/verifier

## sandbox: build, then run the whole journey locally against simulated Microsoft and IDEMIA (no accounts)
sandbox: build
	bin/verifier serve --sandbox

## run: build, then serve with the settings of $(CONFIG) (the environment wins over the file)
run: build
	bin/verifier serve --config $(CONFIG)

## test: everything CI checks — formatting, vet, staticcheck, the race-enabled tests, and the deploy module
test: fmt-check vet staticcheck unit deploy-check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: # modules fetched first, so that vet's output is its findings only
	@$(GO) mod download
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
