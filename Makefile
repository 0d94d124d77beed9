# hpcmap: `make demo` runs the examples, `make test` passes the tests. The
# demo builds for the MPI it finds (a cluster's module, say), and installs
# OpenMPI through apt only on a Debian/Ubuntu machine with no MPI at all; the
# tests install what they need (OpenMPI, MPICH, ... through apt) when missing.

GO      ?= go
# MPI picks the implementation for `make build`: mpi (OpenMPI, into bin/),
# mpich (MPICH, into bin/mpich/), or mpicc (any MPI, built with the flags of
# its C compiler wrapper: $(MPICC), or mpicc on PATH; into bin/).
MPI     ?= mpi
BINDIR  := $(if $(filter mpich,$(MPI)),bin/mpich,bin)
EXAMPLES := auc mcscan
# staticcheck at a pinned version, fetched and built by go run (cached after
# the first time).
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help deps build demo test test-go test-mpi test-slurm bench sim lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

deps: ## install OpenMPI, MPICH, mpi4py and GNU Parallel through apt if missing
	@bash scripts/deps.sh openmpi mpich mpi4py parallel

build: ## build the examples and the hpcmap command into bin/ (MPI=mpich: bin/mpich/; MPI=mpicc: any MPI's mpicc)
	@$(if $(filter mpicc,$(MPI)),,bash scripts/deps.sh $(if $(filter mpich,$(MPI)),mpich,openmpi))
	@mkdir -p $(BINDIR)
	$(if $(filter mpicc,$(MPI)),eval "$$(scripts/mpicc-flags.sh)" && )$(GO) build -tags $(MPI) -o $(BINDIR)/ $(addprefix ./examples/,$(EXAMPLES)) ./cmd/hpcmap

demo: ## find this machine's MPI (a module; apt on Debian only if none), build for it, run auc and mcscan on 2 ranks
	@bash examples/demo.sh

test: deps test-go test-mpi test-slurm ## every test: pure Go with -race, real OpenMPI and MPICH, real Slurm

test-go: ## go vet, and go test -race (in shuffled order) on in-process ranks
	$(GO) vet ./...
	$(GO) test -race -count=1 -shuffle=on -timeout=12m ./...

test-mpi: ## the same tests on real OpenMPI (np 1,2,3,4,8), MPICH (np 1,2,4), and the mpicc build of each
	@bash scripts/test-mpi.sh

test-slurm: ## the sbatch scripts on a throw-away two-node Slurm cluster
	@bash scripts/deps.sh slurm openmpi mpich
	@$(MAKE) --no-print-directory build MPI=mpi
	@$(MAKE) --no-print-directory build MPI=mpich
	@bash scripts/slurm/test.sh

bench: deps ## Map, AllSum, C MPI and mpi4py.futures side by side
	@bash bench/run.sh

sim: deps ## the map simulator: calibrated here, checked against real maps at np 2 and 4, then 1,024 to 102,400 ranks
	@bash bench/sim.sh

lint: ## gofmt, import grouping, go vet and staticcheck for every build (no MPI, OpenMPI, MPICH, mpicc)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) run ./internal/lint/importgroups
	$(GO) vet ./...
	$(GO) vet -tags mpi ./...
	$(GO) vet -tags mpich ./...
	eval "$$(scripts/mpicc-flags.sh)" && $(GO) vet -tags mpicc ./... && $(GO) vet -tags mpicc,hpcmapbench ./bench/...
	$(GO) vet -tags mpi,hpcmapbench ./bench/...
	$(GO) vet -tags mpich,hpcmapbench ./bench/...
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags mpi ./...
	$(STATICCHECK) -tags mpich ./...
	eval "$$(scripts/mpicc-flags.sh)" && $(STATICCHECK) -tags mpicc ./... && $(STATICCHECK) -tags mpicc,hpcmapbench ./bench/...
	$(STATICCHECK) -tags mpi,hpcmapbench ./bench/...
	$(STATICCHECK) -tags mpich,hpcmapbench ./bench/...

clean: ## remove built binaries and example output
	rm -rf bin bench/build mc_data
