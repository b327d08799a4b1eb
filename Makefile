# dirtygate: `make run` gates the seed patch, `make test` runs the tests.
# Both install what they need first (ci/install-deps; Go modules come
# through the module proxy on first build).
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
comma := ,
# Empty: the default arches of arches/arch.go (x86_64, arm64, s390x, hppa).
ARCHES ?=
CANDIDATE ?= rfc-v2
# The kernel axis: Debian's 6.1 and 6.12 LTS sources (kernels/source.go).
KERNELS ?= 6.1,6.12

# The cross compilers and QEMUs of ARCHES (empty: the default arches),
# beyond the x86_64 and hppa ones `make test` needs (ci/install-deps).
archdeps = ci/install-deps $$(bin/dirtygate arches --packages --arch $(or $(ARCHES),default))

.PHONY: all deps build run matrix test htmltest selftest bench vet fuzz clean

all: build

deps:
	ci/install-deps

build: deps
	$(GO) build -o bin/dirtygate ./harness/cmd/dirtygate

# The main job: the seed patch against the baseline on the default arches,
# on both kernels.
# Exit 1 means the candidate was rejected, as the seed patch should be.
run: build
	$(archdeps)
	ci/gate $(if $(ARCHES),--arch $(ARCHES)) --kernel $(KERNELS) --candidate $(CANDIDATE)

# The whole matrix: every arch in arches/, their cross compilers and QEMUs
# installed first (cold: about 5 minutes of kernel build per arch).
matrix: build
	ci/install-deps $$(bin/dirtygate arches --packages)
	ci/gate --arch all --kernel $(KERNELS) --candidate $(CANDIDATE)

# Unit tests, and real builds and boots of x86_64 and hppa (cold: ~15
# minutes). go vet, which compiles every package's dependencies, needs
# nothing apt installs: it runs beside ci/install-deps, so a fresh
# machine compiles while apt downloads and unpacks; go test's own vet
# pass, a subset of it, is off. -count=1: the end-to-end tests drive
# kernels and QEMU that go test cannot see, so a cached result would be a
# pass that ran nothing.
test:
	$(GO) vet ./... & vet=$$!; ci/install-deps; deps=$$?; wait $$vet && exit $$deps
	$(GO) test -vet=off -count=1 -timeout 45m ./...

# The HTML page as a person sees it: headless Chromium renders a captured
# s390x rfc-v2 report; the screenshot must not be blank and the drawing's
# cells must match the findings. Kept out of `make test` (chromium is a
# large install and the browser start is slow).
htmltest:
	ci/install-deps chromium
	$(GO) test -tags chromium -run Chromium -count=1 ./harness/htmlreport
# The kill matrix: every kernel mutant (kernels/mutants/) gated against its
# base on ARCHES (default x86_64), one arch after the other (warm: a patch
# swap and an agent run per mutant, ~1 minute each on x86_64).
selftest: build
	$(if $(ARCHES),$(archdeps))
	for a in $(or $(subst $(comma), ,$(ARCHES)),x86_64); do bin/dirtygate selftest --arch $$a || exit 2; done

# Cold build, warm verdict, patch swap and boot floor per arch, as a table
# (cold builds: several minutes per arch), and kunit_tool beside it
# (`--peer kunit`: the kernel's own runner, built once per arch and kernel).
bench: build
	$(archdeps)
	bin/dirtygate bench $(if $(ARCHES),--arch $(ARCHES)) --kernel $(KERNELS) --cold --peer kunit

vet:
	$(GO) vet ./...

fuzz:
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime 60s ./vmm/record
	$(GO) test -run XXX -fuzz FuzzRuns -fuzztime 60s ./vmm/record
	$(GO) test -run XXX -fuzz FuzzDecodeResponse -fuzztime 60s ./harness/executor
	$(GO) test -run XXX -fuzz FuzzStream -fuzztime 60s ./harness/executor

clean:
	rm -rf bin out
