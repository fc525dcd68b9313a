# Alto: the newcomer's index. `make help` lists the targets.

GO        ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
NAG       := infra/cdk/nag
REGION    ?=
# jsii (the CDK app and its tests) prints a large banner under Node 20.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION ?= 1

.PHONY: help run run-aws test fuzz-short fuzz build synth nag deploy lint vuln bench load conformance clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

run: ## serve the whole stack on 127.0.0.1:8080 with data in ./.alto
	$(GO) run ./infra/local serve

run-aws: ## the same, on the AWS adapters: at AWS_ENDPOINT_URL, else on a moto_server of its own (in memory)
	$(GO) run ./infra/local serve --aws

# make test runs the tests once: their -json events (kept in build/test.json)
# feed the conformance report, which prints build errors, package results and
# failing tests' output, writes docs/CONFORMANCE.md and fails on a promise
# without a passing test.
test: fuzz-short $(NAG)/node_modules ## every test, from a fresh clone: no AWS account, no Docker (AWS adapters run against moto_server); fails on a SPEC promise without a passing test
	@command -v moto_server >/dev/null || { echo "make test: moto_server not found: install moto 5.2.1 (pip install 'moto[server]==5.2.1')"; exit 1; }
	$(GO) vet ./...
	@mkdir -p build && $(GO) build -o build/conformance ./infra/conformance
	@echo "$(GO) test -race -count=1 -timeout 12m -json ./... | build/conformance --echo --out docs/CONFORMANCE.md"
	@{ $(GO) test -race -count=1 -timeout 12m -json ./...; echo $$? > build/test.status; } | tee build/test.json \
		| build/conformance --echo --spec ../shared/SPEC.md --out docs/CONFORMANCE.md; \
	conf=$$?; test "$$(cat build/test.status)" = 0 && test $$conf = 0

# Fuzz targets as package:Target, each with a seed corpus in the package's
# testdata/fuzz/<Target>.
FUZZ_TARGETS := ./shared/csvimport:FuzzReader ./shared/httpapi:FuzzDecodeContact ./shared/auth:FuzzVerify ./shared/campaign:FuzzParseToken
FUZZTIME ?= 8s

fuzz-short: ## every fuzz target for FUZZTIME (8s) from its committed seed corpus (part of test)
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

fuzz: ## every fuzz target for FUZZLONG (5m) each; a failing input is saved to its testdata/fuzz
	$(MAKE) fuzz-short FUZZTIME=$(or $(FUZZLONG),5m)

build: ## every function as build/<name>/bootstrap for Lambda (linux/arm64)
	@for f in $(FUNCTIONS); do \
		echo "build/$$f/bootstrap"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath \
			-ldflags "-s -w" -o build/$$f/bootstrap ./functions/$$f || exit 1; \
	done

synth: build ## the AWS deployment's templates in cdk.out, offline, no AWS account (OPS-01); REGION=eu-central-1 for the EU
	$(if $(REGION),CDK_CONTEXT_JSON='{"alto:region":"$(REGION)"}') $(GO) run ./infra/cdk

nag: synth $(NAG)/node_modules ## cdk-nag's AwsSolutions checks on cdk.out; fails on any unsuppressed finding (make test runs them too)
	node $(NAG)/nag.js cdk.out

deploy: nag ## deploy cdk.out with your AWS credentials: needs the AWS CDK CLI and `cdk bootstrap` once per account and region
	@command -v cdk >/dev/null || { echo "deploy: needs the AWS CDK CLI (npm install -g aws-cdk@2), AWS credentials, and cdk bootstrap once per account and region"; exit 1; }
	cdk deploy --app cdk.out --all

$(NAG)/node_modules: $(NAG)/package-lock.json
	cd $(NAG) && npm ci --no-audit --no-fund
	@touch $@

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
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 90m ./... | tee build/bench.txt
	./.ci/benchreport < build/bench.txt > docs/BENCHMARKS.md
	@echo "wrote docs/BENCHMARKS.md"

LOAD_DURATION ?= 60s

load: ## drive the local stack (a separate serve process) over loopback for LOAD_DURATION (60s) with mixed API traffic; fails on any error or a growing heap
	@mkdir -p build
	$(GO) build -o build/alto-local ./infra/local
	$(GO) run ./infra/load --server build/alto-local --duration $(LOAD_DURATION)

conformance: $(NAG)/node_modules ## every SPEC promise mapped to its tests, into docs/CONFORMANCE.md; fails on a promise without a passing test
	@mkdir -p build
	$(GO) test -count=1 -json ./... > build/test.json || true
	$(GO) run ./infra/conformance --spec ../shared/SPEC.md --out docs/CONFORMANCE.md < build/test.json

clean: ## remove build output
	rm -rf build cdk.out
