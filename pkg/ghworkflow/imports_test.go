package ghworkflow

import (
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pkg is shared by the coordinator, the runner and the CLI, so it must not
// depend on either side; the importer builds on pkg/pipeline and
// pkg/expr/actions only.
func TestImportsStayInPkg(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		ast, err := goparser.ParseFile(fset, f, nil, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/gantry-ci/gantry/") && !strings.HasPrefix(path, "github.com/gantry-ci/gantry/pkg/") {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}
