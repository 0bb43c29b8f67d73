// Package web is the coordinator's dashboard: server-rendered pages of
// runs, jobs and their logs, the queue and the runners, with live updates
// over Server-Sent Events. It reads everything through the coordinator's
// public gRPC API (the same calls the CLI makes), so it shows what the CLI
// shows and works the same in front of any coordinator of a cluster.
package web
