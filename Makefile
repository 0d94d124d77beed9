# hpcmap: `make demo` runs the examples, `make test` passes the tests. Both
# install what they need (OpenMPI, MPICH, ... through apt) when it is missing.

GO      ?= go
# MPI picks the implementation for `make build`: mpi (OpenMPI, into bin/) or
# mpich (MPICH, into bin/mpich/).
MPI     ?= mpi
BINDIR  := $(if $(filter mpich,$(MPI)),bin/mpich,bin)
EXAMPLES := auc mcscan

.PHONY: help deps build demo test test-go test-mpi test-slurm bench lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

deps: ## install OpenMPI, MPICH, mpi4py and GNU Parallel through apt if missing
	@bash scripts/deps.sh openmpi mpich mpi4py parallel

build: ## build the examples into bin/ (MPI=mpich: bin/mpich/)
	@bash scripts/deps.sh $(if $(filter mpich,$(MPI)),mpich,openmpi)
	@mkdir -p $(BINDIR)
	$(GO) build -tags $(MPI) -o $(BINDIR)/ $(addprefix ./examples/,$(EXAMPLES))
	$(GO) build -tags $(MPI) -o $(BINDIR)/ ./cmd/hpcmap
	$(GO) build -o $(BINDIR)/ ./cmd/hpcmap-trace ./cmd/hpcmap-journal

demo: ## run auc and a full mcscan on 2 ranks
	@bash examples/demo.sh

test: deps test-go test-mpi test-slurm ## every test: pure Go with -race, real OpenMPI and MPICH, real Slurm

test-go: ## go vet, and go test -race (in shuffled order) on in-process ranks
	$(GO) vet ./...
	$(GO) test -race -count=1 -shuffle=on -timeout=5m ./...

test-mpi: ## the same tests on real OpenMPI (np 1,2,3,4,8) and MPICH (np 1,2,4)
	@bash scripts/test-mpi.sh

test-slurm: ## the sbatch scripts on a throw-away two-node Slurm cluster
	@bash scripts/deps.sh slurm openmpi mpich
	@$(MAKE) --no-print-directory build MPI=mpi
	@$(MAKE) --no-print-directory build MPI=mpich
	@bash scripts/slurm/test.sh

bench: deps ## Map, AllSum, C MPI and mpi4py.futures side by side
	@bash bench/run.sh

lint: ## gofmt and go vet for every build (no MPI, OpenMPI, MPICH)
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags mpi ./...
	$(GO) vet -tags mpich ./...
	$(GO) vet -tags mpi,hpcmapbench ./mpi ./bench/...

clean: ## remove built binaries and example output
	rm -rf bin bench/build mc_data
