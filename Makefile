# Alto: the newcomer's index. `make help` lists the targets.

GO        ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0

.PHONY: help run test build lint vuln bench conformance clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

run: ## serve the whole stack on 127.0.0.1:8080 with data in ./.alto
	$(GO) run ./infra/local serve

test: ## every test, from a fresh clone: no AWS account, no Docker
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

build: ## every function as build/<name>/bootstrap for Lambda (linux/arm64)
	@for f in $(FUNCTIONS); do \
		echo "build/$$f/bootstrap"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath \
			-ldflags "-s -w" -o build/$$f/bootstrap ./functions/$$f || exit 1; \
	done

lint: ## gofmt, go vet, and staticcheck when it can be installed
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if $(GO) run $(STATICCHECK) -version >/dev/null 2>&1; then \
		$(GO) run $(STATICCHECK) ./...; \
	else echo "lint: staticcheck could not be installed here; skipped (gofmt and go vet ran)"; fi

vuln: ## govulncheck; says plainly when its database cannot be reached (OPS-03)
	@./.ci/vuln

bench: ## benchmarks, as ratios against baselines of the same run, into docs/BENCHMARKS.md
	@mkdir -p build
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./... | tee build/bench.txt
	./.ci/benchreport < build/bench.txt > docs/BENCHMARKS.md
	@echo "wrote docs/BENCHMARKS.md"

conformance: ## every SPEC promise mapped to its tests, into docs/CONFORMANCE.md; fails on a promise without a passing test
	@mkdir -p build
	$(GO) test -count=1 -json ./... > build/test.json || true
	$(GO) run ./infra/conformance --spec ../shared/SPEC.md --out docs/CONFORMANCE.md < build/test.json

clean: ## remove build output
	rm -rf build
