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

demo: deps-demo $(BIN)
	$(BIN) build examples/seed --out dist
	@echo "--- running dist/x86_64-linux-musl/musl_test_main"
	@./dist/x86_64-linux-musl/musl_test_main

test: deps-test $(BIN)
	$(GO) vet ./...
	@# Provisions zig and builds its runtime once, so that every package's tests find it.
	$(BIN) build examples/seed --out $$(mktemp -d)
	$(GO) test -count=1 -timeout 80m ./...

clean:
	rm -rf bin dist
