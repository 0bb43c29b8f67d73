// Package yamlpos reads YAML into nodes that remember the line and column
// they were written at, for the parsers of YAML file formats (GitLab
// pipelines, GitHub Actions workflows) that report problems where the user
// can fix them.
//
// Parse reads the documents of a file and turns the YAML library's syntax
// errors into positioned messages; a Loader converts a document into Nodes,
// applying aliases without copying them and reporting alias cycles, unknown
// tags, duplicate keys and redefined anchors; a Sizer bounds what aliases
// expand to ("billion laughs") before anything walks the tree. What differs
// between formats (custom tags, merge keys, how many documents a file
// holds) is left to Options and to the callers.
package yamlpos
