// Package docs holds hpcmap's guides, the Markdown files in this directory,
// and no code. Its test builds and runs every Go program in them and in the
// README, under each MPI's launcher, and checks what each prints, so that no
// example in the documentation can rot.
package docs
