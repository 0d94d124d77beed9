// Package gantt draws the task traces of package trace as Gantt charts, to
// see how a map's tasks were spread over ranks and workers, and where they
// waited. It is the only part of hpcmap that links gonum's plot: a program
// links it only if it draws.
//
// What to look for: under the Block schedule every rank gets the same number
// of tasks, so when tasks cost unequal time some lanes finish early and sit
// idle until the slowest one ends, which shows as long pale red tails; under
// Dynamic the lanes end together.
package gantt
