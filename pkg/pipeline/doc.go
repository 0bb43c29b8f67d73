// Package pipeline reads GitLab-CI-compatible pipeline files (.gantry.yml,
// .gitlab-ci.yml) into the model the coordinator schedules from.
//
// Parsing happens in two layers so the language can grow without the model
// losing track of where things came from:
//
//   - the raw layer (yamlnode.go) turns YAML into a tree of nodes that keeps
//     the file, line and column of every value, with aliases and `<<` merge
//     keys already applied;
//   - the normalisation layer (parse.go, job.go, values.go, extends.go)
//     resolves `extends`, applies `default:` and checks every keyword,
//     producing the model in model.go.
//
// Every problem is reported with its position, and Parse reports all the
// problems it finds at once, sorted by position, so a user can fix a file in
// one pass. Keywords GitLab knows but Gantry does not implement yet are
// ignored with a Warning rather than rejected.
package pipeline
