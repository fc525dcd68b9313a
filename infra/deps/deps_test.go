package deps

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository root, two folders up from this package.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	return dir
}

// closedURL is an http URL on 127.0.0.1 where nothing listens: every
// connection to it is refused at once, without touching the network.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// offlineEnv is the environment with the go command kept off the network:
// no toolchain downloads, no checksum database, and env's overrides.
func offlineEnv(env ...string) []string {
	out := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		for _, k := range []string{"GOPROXY=", "GOVULNDB=", "GOSUMDB=", "GOTOOLCHAIN=", "GOFLAGS="} {
			if strings.HasPrefix(kv, k) {
				return true
			}
		}
		return false
	})
	return append(out, append([]string{"GOSUMDB=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod"}, env...)...)
}

func TestOPS03_VulnSaysNothingWasScannedWhenItsDatabaseIsUnreachable(t *testing.T) {
	repo := root(t)
	modCache := goEnv(t, "GOMODCACHE")
	unreachable := closedURL(t)
	cases := []struct {
		name string
		// dir is where the command runs; the script scans the module there.
		dir  func(t *testing.T) string
		cmd  []string
		env  []string
		skip func() string
	}{
		{name: "make vuln with the module proxy unreachable", dir: func(*testing.T) string { return repo },
			cmd: []string{"make", "-s", "vuln"}, env: []string{"GOPROXY=" + unreachable, "GOVULNDB=" + unreachable},
			skip: func() string {
				if _, err := exec.LookPath("make"); err != nil {
					return "make is not installed"
				}
				return ""
			}},
		{name: "module lookups disabled", dir: func(*testing.T) string { return repo },
			cmd: []string{"./.ci/vuln"}, env: []string{"GOPROXY=off", "GOVULNDB=" + unreachable}},
		{name: "govulncheck runs but its database is unreachable", dir: smallModule(repo),
			cmd: []string{"./.ci/vuln"}, env: []string{"GOPROXY=file://" + filepath.ToSlash(filepath.Join(modCache, "cache", "download")),
				"GOVULNDB=" + unreachable},
			skip: func() string {
				// Only a module cache that already holds govulncheck can
				// serve it offline (make vuln puts it there once).
				if _, err := os.Stat(filepath.Join(modCache, "cache", "download", "golang.org", "x", "vuln", "@v", "v1.9.0.zip")); err != nil {
					return "govulncheck v1.9.0 is not in the module cache; run make vuln once where the proxy is reachable"
				}
				return ""
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != nil {
				if why := tc.skip(); why != "" {
					t.Skip(why)
				}
			}
			cmd := exec.Command(tc.cmd[0], tc.cmd[1:]...)
			cmd.Dir = tc.dir(t)
			cmd.Env = offlineEnv(tc.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("%s: err = %v, want a non-zero exit; output:\n%s", tc.cmd, err, out)
			}
			for _, want := range []string{"vuln: NOT SCANNED", "could not be reached"} {
				if !bytes.Contains(out, []byte(want)) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if bytes.Contains(out, []byte("No vulnerabilities found")) {
				t.Errorf("output claims a clean scan:\n%s", out)
			}
		})
	}
}

// smallModule returns a dir func that copies .ci/vuln into a one-file
// module in a temporary folder, so govulncheck loads one package instead of
// the whole repository before it asks for the database.
func smallModule(repo string) func(t *testing.T) string {
	return func(t *testing.T) string {
		t.Helper()
		dir := t.TempDir()
		script, err := os.ReadFile(filepath.Join(repo, ".ci", "vuln"))
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]string{
			".ci/vuln": string(script),
			"go.mod":   "module example.com/small\n\ngo 1.26\n",
			"main.go":  "package main\n\nfunc main() {}\n",
		}
		for name, body := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// module is one module of the build list.
type module struct{ Path, Version string }

// goList runs the go command offline in the repository, refusing to touch
// go.mod or go.sum: a dependency without its hash fails it.
func goList(t *testing.T, repo string, args ...string) []module {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = repo
	cmd.Env = append(offlineEnv("GOPROXY=off"), "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list %s (offline, -mod=readonly): %v\n%s", strings.Join(args, " "), err, exit.Stderr)
		}
		t.Fatal(err)
	}
	var mods []module
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			mods = append(mods, module{f[0], f[1]})
		}
	}
	return mods
}

// required returns the modules go.mod requires, directly or not.
func required(t *testing.T, repo string) []module {
	t.Helper()
	cmd := exec.Command("go", "mod", "edit", "-json")
	cmd.Dir = repo
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	var mod struct{ Require []module }
	if err := json.Unmarshal(out, &mod); err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	return mod.Require
}

// unpinned returns the modules go.sum holds no hash for: every module
// go.mod requires needs the hash of its go.mod, and every module that
// supplies a package also the hash of its content. (The go command checks
// the rest of the module graph itself: goList fails without them.)
func unpinned(sum []byte, graph, code []module) []string {
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sum))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && strings.HasPrefix(f[2], "h1:") {
			have[f[0]+" "+f[1]] = true
		}
	}
	var out []string
	for _, m := range graph {
		if !have[m.Path+" "+m.Version+"/go.mod"] {
			out = append(out, m.Path+" "+m.Version+"/go.mod")
		}
	}
	for _, m := range code {
		if !have[m.Path+" "+m.Version] {
			out = append(out, m.Path+" "+m.Version)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestOPS03_GoSumPinsEveryModule(t *testing.T) {
	repo := root(t)
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	goList(t, repo, "-m", "all") // the whole module graph loads from go.sum's hashes alone
	graph := required(t, repo)
	code := goList(t, repo, "-deps", "-test", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", "./...")
	if len(graph) == 0 || len(code) == 0 {
		t.Fatalf("go list found %d modules and %d supplying code, want some of each", len(graph), len(code))
	}
	dropLine := func(prefix string) []byte { // go.sum without the lines that start with prefix
		var b bytes.Buffer
		for _, line := range strings.SplitAfter(string(sum), "\n") {
			if !strings.HasPrefix(line, prefix) {
				b.WriteString(line)
			}
		}
		return b.Bytes()
	}
	first := code[0]
	cases := []struct {
		name string
		sum  []byte
		want []string
	}{
		{"the repository's go.sum", sum, nil},
		{"a module's content hash removed", dropLine(first.Path + " " + first.Version + " "), []string{first.Path + " " + first.Version}},
		{"a module's go.mod hash removed", dropLine(first.Path + " " + first.Version + "/go.mod "), []string{first.Path + " " + first.Version + "/go.mod"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := unpinned(tc.sum, graph, code); !slices.Equal(got, tc.want) {
				t.Errorf("unpinned = %q, want %q", got, tc.want)
			}
		})
	}
}

var (
	exactVersion = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)
	sha512SRI    = regexp.MustCompile(`^sha512-[A-Za-z0-9+/]{86}==$`)
)

type lockEntry struct {
	Version   string `json:"version"`
	Integrity string `json:"integrity"`
	InBundle  bool   `json:"inBundle"`
	Link      bool   `json:"link"`
}

// lockProblems returns what leaves an npm package unpinned: a dependency
// of package.json not at one exact version, or not at that version in the
// lock; a lock entry without a sha512 integrity hash, unless it comes
// inside a pinned package's own tarball (bundled).
func lockProblems(pkgJSON, lockJSON []byte) ([]string, error) {
	var pkg struct {
		Dependencies, DevDependencies map[string]string
	}
	if err := json.Unmarshal(pkgJSON, &pkg); err != nil {
		return nil, fmt.Errorf("package.json: %w", err)
	}
	var lock struct {
		LockfileVersion int                  `json:"lockfileVersion"`
		Packages        map[string]lockEntry `json:"packages"`
	}
	if err := json.Unmarshal(lockJSON, &lock); err != nil {
		return nil, fmt.Errorf("package-lock.json: %w", err)
	}
	var out []string
	if lock.LockfileVersion < 2 {
		out = append(out, fmt.Sprintf("lockfileVersion %d: want 2 or more (per-package integrity)", lock.LockfileVersion))
	}
	for _, deps := range []map[string]string{pkg.Dependencies, pkg.DevDependencies} {
		for name, v := range deps {
			if !exactVersion.MatchString(v) {
				out = append(out, fmt.Sprintf("package.json: %s %q is not one exact version", name, v))
			} else if got := lock.Packages["node_modules/"+name].Version; got != v {
				out = append(out, fmt.Sprintf("package-lock.json: %s is %q, package.json wants %q", name, got, v))
			}
		}
	}
	for path, e := range lock.Packages {
		switch {
		case path == "" || e.Link:
		case e.InBundle:
			if !bundledByPinned(path, lock.Packages) {
				out = append(out, path+": bundled, but by no package with an integrity hash")
			}
		case e.Version == "" || !sha512SRI.MatchString(e.Integrity):
			out = append(out, path+": no version with a sha512 integrity hash")
		}
	}
	slices.Sort(out)
	return out, nil
}

// bundledByPinned reports whether the package at path comes inside the
// tarball of an enclosing package that has its own integrity hash.
func bundledByPinned(path string, pkgs map[string]lockEntry) bool {
	for p := path; ; {
		i := strings.LastIndex(p, "/node_modules/")
		if i < 0 {
			return false
		}
		p = p[:i]
		if e, ok := pkgs[p]; ok && !e.InBundle {
			return sha512SRI.MatchString(e.Integrity)
		}
	}
}

func TestOPS03_PackageLockPinsEveryPackage(t *testing.T) {
	nag := filepath.Join(root(t), "infra", "cdk", "nag")
	pkg, err := os.ReadFile(filepath.Join(nag, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(nag, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		pkg, lock string
		want      []string // substrings of the problems, in order
	}{
		{"the repository's lock", string(pkg), string(lock), nil},
		{"a range in package.json", strings.Replace(string(pkg), `"cdk-nag": "2.37.55"`, `"cdk-nag": "^2.37.55"`, 1), string(lock),
			[]string{`cdk-nag "^2.37.55" is not one exact version`}},
		{"an integrity hash removed", string(pkg), regexp.MustCompile(`("node_modules/constructs": \{\s*"version": "10\.4\.2",\s*)"integrity": "[^"]+",`).
			ReplaceAllString(string(lock), "$1"), []string{"node_modules/constructs: no version with a sha512 integrity hash"}},
		{"a lock at another version", string(pkg), strings.Replace(string(lock), `"version": "10.4.2"`, `"version": "10.4.3"`, 1),
			[]string{`constructs is "10.4.3", package.json wants "10.4.2"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lockProblems([]byte(tc.pkg), []byte(tc.lock))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems = %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to say %q", i, got[i], w)
				}
			}
		})
	}
}
