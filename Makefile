# dirtygate: `make run` gates the seed patch, `make test` runs the tests.
# Both install what they need first (ci/install-deps; Go modules come
# through the module proxy on first build).
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
# Empty: the default arches of arches/arch.go (x86_64, arm64, s390x, hppa).
ARCHES ?=
CANDIDATE ?= rfc-v2
# The kernel axis: Debian's 6.1 and 6.12 LTS sources (kernels/source.go).
KERNELS ?= 6.1,6.12

.PHONY: all deps build run matrix test bench vet fuzz clean

all: build

deps:
	ci/install-deps

build: deps
	$(GO) build -o bin/dirtygate ./harness/cmd/dirtygate

# The main job: the seed patch against the baseline on the default arches,
# on both kernels.
# Exit 1 means the candidate was rejected, as the seed patch should be.
run: build
	ci/gate $(if $(ARCHES),--arch $(ARCHES)) --kernel $(KERNELS) --candidate $(CANDIDATE)

# The whole matrix: every arch in arches/, their cross compilers and QEMUs
# installed first (cold: about 5 minutes of kernel build per arch).
matrix: build
	ci/install-deps $$(bin/dirtygate arches --packages)
	ci/gate --arch all --kernel $(KERNELS) --candidate $(CANDIDATE)

# Unit tests, and real builds and boots of x86_64 and hppa (cold: ~15
# minutes). -count=1: the end-to-end tests drive kernels and QEMU that go
# test cannot see, so a cached result would be a pass that ran nothing.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 45m ./...

# Cold build, warm verdict, patch swap and boot floor per arch, as a table
# (cold builds: several minutes per arch).
bench: build
	bin/dirtygate bench $(if $(ARCHES),--arch $(ARCHES)) --kernel $(KERNELS) --cold

vet:
	$(GO) vet ./...

fuzz:
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime 60s ./guest/record
	$(GO) test -run XXX -fuzz FuzzDecodeResponse -fuzztime 60s ./guest/executor
	$(GO) test -run XXX -fuzz FuzzStream -fuzztime 60s ./guest/executor

clean:
	rm -rf bin out
