# portabin: `make demo` builds the seed example into a static executable and runs it;
# `make test` runs every test. Both install what they need first.
GO ?= go
BIN := bin/portabin
# portabin must be a static Go executable: it also runs inside builder containers.
export CGO_ENABLED := 0

.PHONY: build demo test deps-demo deps-test clean
build: $(BIN)

$(BIN): $(shell find cmd internal -name '*.go') go.mod go.sum
	$(GO) build -trimpath -o $@ ./cmd/portabin

deps-demo:
	@scripts/install-deps.sh demo

deps-test:
	@scripts/install-deps.sh test

# The demo builds the seed for x86_64 and aarch64, checks both, and runs them in an empty root
# and three real Debian roots (debootstrapped once, cached) with the kernels of RHEL 5, 6 and 7
# and the host's: the matrix on the terminal, dist/report.html beside the executables.
demo: deps-demo $(BIN)
	@roots=scratch; for suite in bullseye bookworm trixie; do \
		roots="$$roots,$$suite=tar:$$(scripts/debian-root.sh $$suite)" || exit 1; done; \
	$(BIN) run --out dist --on "$$roots" examples/seed

test: deps-test $(BIN)
	$(GO) vet ./...
	@# Provisions zig and builds its runtime once, so that every package's tests find it.
	$(BIN) build examples/seed --out $$(mktemp -d)
	$(GO) test -count=1 -timeout 80m ./...

clean:
	rm -rf bin dist
