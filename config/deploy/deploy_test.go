// Package deploy holds example deployments of casebot (kubernetes.yaml, casebot.service) and a
// test that keeps them true to the binary: the paths it serves, the config it accepts.
package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"casebot/config"
)

// served returns the paths the daemon's status server serves, read from its source: this
// package must not import the CLI, and a probe of a path it stopped serving must fail here.
func served(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../../bot/cli/status.go")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, m := range regexp.MustCompile(`HandleFunc\("GET (/[^"]*)"`).FindAllSubmatch(src, -1) {
		paths = append(paths, string(m[1]))
	}
	if !slices.Contains(paths, "/healthz") {
		t.Fatalf("found no /healthz among the status server's paths %v: has its source moved?", paths)
	}
	return paths
}

// object is a Kubernetes object as decoded YAML.
type object = map[string]any

// at walks keys (strings for maps, ints for lists) down o; nil when one is missing.
func at(o any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := o.(map[string]any)
			if !ok {
				return nil
			}
			o = m[k]
		case int:
			l, ok := o.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			o = l[k]
		}
	}
	return o
}

func TestKubernetes(t *testing.T) {
	data, err := os.ReadFile("kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]object{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		objects[o["kind"].(string)] = o
	}
	deploy, secret, cm := objects["Deployment"], objects["Secret"], objects["ConfigMap"]
	if deploy == nil || secret == nil || cm == nil {
		t.Fatalf("want a Deployment, a Secret and a ConfigMap; have %v", slices.Sorted(func(yield func(string) bool) {
			for k := range objects {
				if !yield(k) {
					return
				}
			}
		}))
	}
	if r := at(deploy, "spec", "replicas"); r != 2 {
		t.Errorf("spec.replicas = %v, want 2", r)
	}
	pod := at(deploy, "spec", "template", "spec")
	c := at(pod, "containers", 0)

	// The config file the container runs with is the ConfigMap's, mounted where args say.
	args, _ := at(c, "args").([]any)
	if len(args) != 3 || args[0] != "run" || args[1] != "-config" {
		t.Fatalf("args = %v, want run -config FILE", args)
	}
	mounts := map[string]string{} // volume name to mount path
	for _, m := range at(c, "volumeMounts").([]any) {
		mounts[at(m, "name").(string)] = at(m, "mountPath").(string)
	}
	for _, v := range at(pod, "volumes").([]any) {
		switch {
		case at(v, "configMap", "name") == at(cm, "metadata", "name"):
			if mounts[at(v, "name").(string)] != args[2] {
				t.Errorf("the ConfigMap is mounted at %q, but casebot reads %v", mounts[at(v, "name").(string)], args[2])
			}
		case at(v, "secret", "secretName") == at(secret, "metadata", "name"):
			mounts["\x00secret"] = mounts[at(v, "name").(string)]
		}
	}
	secretDir := mounts["\x00secret"]
	if secretDir == "" {
		t.Fatal("the Secret is not mounted")
	}

	// Every *_file key names a file of the Secret, and every file of the Secret is named.
	text, _ := at(cm, "data", "casebot.yaml").(string)
	var conf map[string]any
	if err := yaml.Unmarshal([]byte(text), &conf); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for k := range at(secret, "stringData").(map[string]any) {
		files[path.Join(secretDir, k)] = false
	}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, v := range m {
			if strings.HasSuffix(k, "_file") {
				if _, ok := files[v.(string)]; !ok {
					t.Errorf("%s%s: %v is not a file of the Secret", prefix, k, v)
				}
				files[v.(string)] = true
			}
			walk(prefix+k+".", v)
		}
	}
	walk("", conf)
	for f, used := range files {
		if !used {
			t.Errorf("the Secret's %s is named by no *_file key of the config", f)
		}
	}

	// The config is one casebot accepts, with the Secret's files where they are mounted.
	dir := t.TempDir()
	for k, v := range at(secret, "stringData").(map[string]any) {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v.(string)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse("casebot.yaml", []byte(strings.ReplaceAll(text, secretDir+"/", dir+"/")), dir)
	if err != nil {
		t.Fatalf("the ConfigMap's casebot.yaml: %v", err)
	}
	if cfg.Store.Driver != "postgres" {
		t.Errorf("store.driver = %q; two replicas share a ledger only in PostgreSQL", cfg.Store.Driver)
	}

	// The probes ask paths the status server serves, on the port it listens on, reachable
	// from the kubelet (not loopback).
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		t.Errorf("http.listen = %s: the kubelet cannot probe a loopback address", cfg.HTTP.Listen)
	}
	ports := map[string]string{}
	for _, p := range at(c, "ports").([]any) {
		ports[at(p, "name").(string)] = strconv.Itoa(at(p, "containerPort").(int))
	}
	paths := served(t)
	for probe, want := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		get := at(c, probe, "httpGet")
		if get == nil {
			t.Errorf("no %s.httpGet", probe)
			continue
		}
		p, _ := at(get, "path").(string)
		if p != want || !slices.Contains(paths, p) {
			t.Errorf("%s asks %q; want %s, which casebot serves (it serves %v)", probe, p, want, paths)
		}
		if pp := ports[at(get, "port").(string)]; pp != port {
			t.Errorf("%s asks port %s, casebot listens on %s", probe, pp, port)
		}
	}
	if at(c, "resources", "requests") == nil || at(c, "resources", "limits") == nil {
		t.Error("the container has no resource requests and limits")
	}
}

func TestSystemd(t *testing.T) {
	f, err := os.Open("casebot.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string]map[string][]string{} // section to key to values
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			unit[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("not a unit file line: %q", line)
			}
			unit[section][k] = append(unit[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	svc := unit["Service"]
	one := func(k string) string {
		if len(svc[k]) != 1 {
			t.Errorf("[Service] %s is set %d times, want once", k, len(svc[k]))
			return ""
		}
		return svc[k][0]
	}
	for k, want := range map[string]string{"Type": "simple", "Restart": "always", "NoNewPrivileges": "yes", "ProtectSystem": "strict"} {
		if got := one(k); got != want {
			t.Errorf("%s=%s, want %s", k, got, want)
		}
	}
	if u := one("User"); u == "" || u == "root" {
		t.Errorf("User=%s: casebot runs as a user of its own", u)
	}
	state := one("StateDirectory")
	if state == "" {
		t.Error("no StateDirectory: the SQLite ledger needs a writable directory")
	}
	if wd := one("WorkingDirectory"); wd != "/var/lib/"+state {
		t.Errorf("WorkingDirectory=%s, want the state directory /var/lib/%s", wd, state)
	}

	// ExecStart runs `casebot run -config FILE`, FILE in the unit's configuration directory.
	exec := strings.Fields(one("ExecStart"))
	if len(exec) != 4 || path.Base(exec[0]) != "casebot" || exec[1] != "run" || exec[2] != "-config" {
		t.Fatalf("ExecStart=%s, want casebot run -config FILE", strings.Join(exec, " "))
	}
	if confDir := one("ConfigurationDirectory"); confDir == "" || path.Dir(exec[3]) != "/etc/"+confDir {
		t.Errorf("ExecStart's config %s is not in the unit's ConfigurationDirectory /etc/%s", exec[3], confDir)
	}
	for _, pre := range svc["ExecStartPre"] {
		if f := strings.Fields(pre); len(f) > 1 && f[1] == "migrate" && !slices.Contains(f, exec[3]) {
			t.Errorf("ExecStartPre=%s migrates another config than ExecStart runs (%s)", pre, exec[3])
		}
	}
}
